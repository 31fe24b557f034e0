// pack under faults: a full disk (a real 20 MiB tmpfs), a torn tail left by a crash or an older
// writer, and Ctrl-C mid-way. Each must leave the slab files exactly as the last committed pack
// left them (format.md §7) and later packs working, with earlier streams intact.
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeSlabHeader } from '../../src/archive/slab-file.js';
import { CLI, diskarc, diskarcJson, run, tempDir, uncommittedStreams, writeSparse } from './harness.js';

/** Sizes of every file under data/ and hashes/ (slab files and their offsets indexes). */
async function slabFileSizes(archive: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const dir of ['data', 'hashes']) {
    for (const name of (await readdir(join(archive, dir))).sort()) out[`${dir}/${name}`] = (await stat(join(archive, dir, name))).size;
  }
  return out;
}

async function assertNoDebris(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, archive: string): Promise<void> {
  t.deepEqual(await uncommittedStreams(archive), [], 'no uncommitted stream files left');
  t.deepEqual((await readdir(archive)).filter((n) => n === 'lock'), [], 'lock released');
}

test.serial('a full disk: exit 13, the slab files cut back, later packs work (real 20 MiB tmpfs)', async (t) => {
  const dir = await tempDir(t);
  const mnt = join(dir, 'small');
  await mkdir(mnt);
  const m = await run('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt]);
  t.is(m.code, 0, m.stderr);
  t.teardown(() => run('umount', [mnt]));
  const archive = join(mnt, 'arc');
  await diskarcJson('create', '-a', archive);

  // The sequence: a 64 MiB image that fits, then 100 MiB of random data that does not.
  const image = join(dir, 'image64');
  await writeSparse(image, 64 << 20, [{ offset: 0, data: randomBytes(3 << 20) }, { offset: 40 << 20, data: randomBytes(3 << 20) }]);
  const first = await diskarcJson<{ id: string }>('pack', '-a', archive, image);
  const big = join(dir, 'random100');
  await writeFile(big, randomBytes(100 << 20));
  const committed = await slabFileSizes(archive);

  const full = await diskarc('pack', '-a', archive, big, '--json');
  t.is(full.code, 13, full.stderr);
  t.regex(full.stderr, /no space left on the device while writing to archive/);
  t.regex(full.stderr, /nothing was committed; the [\d.]+ MiB of slabs this pack had written were cut from the slab files/);
  const err = JSON.parse(full.stdout).error;
  t.is(err.code, 'ENOSPACE');
  t.true(err.slabBytesRemoved > 0);
  t.deepEqual(await slabFileSizes(archive), committed, 'slab files and indexes are back to their committed lengths');
  await assertNoDebris(t, archive);

  // Later packs work, dedup against the first stream, and every stream reads back whole.
  const small = join(dir, 'small1');
  await writeFile(small, randomBytes(1 << 20));
  for (let i = 0; i < 2; i++) {
    const again = await diskarc('pack', '-a', archive, small, '--json');
    t.is(again.code, 0, again.stderr);
  }
  for (const s of [first.id, 'small1']) {
    const v = await diskarc('verify', '-a', archive, '-s', s);
    t.is(v.code, 0, v.stderr);
  }
  const againImage = await diskarcJson<{ dataWritten: number }>('pack', '-a', archive, image);
  t.is(againImage.dataWritten, 0, 'the first stream\'s chunks are still found by dedup');
});

test('a torn tail (index entries for slabs cut short, as older diskarc left after ENOSPC, and a torn index entry) is cut by the next pack', async (t) => {
  const dir = await tempDir(t);
  const archive = join(dir, 'arc');
  await diskarcJson('create', '-a', archive);
  const a = join(dir, 'a');
  await writeFile(a, randomBytes(2 << 20));
  const first = await diskarcJson<{ id: string }>('pack', '-a', archive, a);
  const committed = await slabFileSizes(archive);

  // What an older diskarc left after ENOSPC (the "slab 79 … is truncated"): in both
  // files an index entry for a slab cut short, then a torn index entry, as a crash mid-append
  // leaves one.
  for (const kind of ['data', 'hashes']) {
    const file = join(archive, kind, '000000.slab');
    const entry = Buffer.alloc(8);
    entry.writeBigUInt64LE(BigInt(committed[`${kind}/000000.slab`]));
    await appendFile(file, Buffer.concat([encodeSlabHeader(0, 5000, 5000, 0), randomBytes(1200)]));
    await appendFile(`${file}.offsets`, Buffer.concat([entry, Buffer.alloc(3, 0xff)]));
  }

  const b = join(dir, 'b');
  await writeFile(b, randomBytes(1 << 20));
  const second = await diskarc('pack', '-a', archive, b, '--json');
  t.is(second.code, 0, second.stderr);
  const written = JSON.parse(second.stdout) as { dataWritten: number; hashesWritten: number };
  const now = await slabFileSizes(archive);
  t.deepEqual(Object.keys(now), Object.keys(committed), 'appended to the same file pair, no new pair started');
  t.is(now['data/000000.slab'], committed['data/000000.slab'] + written.dataWritten, 'the torn data tail was cut before appending');
  t.is(now['hashes/000000.slab'], committed['hashes/000000.slab'] + written.hashesWritten, 'the torn hashes tail was cut before appending');
  for (const s of [first.id, 'b']) {
    const v = await diskarc('verify', '-a', archive, '-s', s);
    t.is(v.code, 0, v.stderr);
  }
});

/**
 * Starts a pack of a FIFO whose writer sends 24 MiB and then stays open, and returns once the
 * data file has grown by 8 MiB: the pack is surely mid-way, and cannot finish before a signal.
 */
async function packMidway(t: Parameters<typeof tempDir>[0] & { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, dir: string, archive: string, committed: Record<string, number>) {
  const fifo = join(dir, 'fifo');
  t.is((await run('mkfifo', [fifo])).code, 0);
  const src = join(dir, 'src');
  await writeFile(src, randomBytes(24 << 20));
  const writer = spawn('sh', ['-c', `exec 3>"${fifo}"; cat "${src}" >&3; exec sleep 30`], { detached: true, stdio: 'ignore' });
  t.teardown(() => {
    try {
      process.kill(-writer.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const child = spawn(process.execPath, [CLI, 'pack', '-a', archive, fifo, '--name', 'cut'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const dataFile = join(archive, 'data', '000000.slab');
  const deadline = Date.now() + 20000;
  while ((await stat(dataFile)).size < committed['data/000000.slab'] + (8 << 20) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const grownBy = (await stat(dataFile)).size - committed['data/000000.slab'];
  t.true(grownBy >= 8 << 20, `the pack wrote slabs before the signal (${grownBy} bytes)`);
  return { child, exited, stderr: () => stderr };
}

test('Ctrl-C mid-way: exit 130, the slabs it wrote are cut, and it says so', async (t) => {
  const dir = await tempDir(t);
  const archive = join(dir, 'arc');
  await diskarcJson('create', '-a', archive);
  const a = join(dir, 'a');
  await writeFile(a, randomBytes(1 << 20));
  await diskarcJson('pack', '-a', archive, a);
  const committed = await slabFileSizes(archive);
  const { child, exited, stderr: err } = await packMidway(t, dir, archive, committed);
  child.kill('SIGINT');
  const code = await exited;
  const stderr = err();
  t.is(code, 130, stderr);
  t.regex(stderr, /interrupted; nothing was committed; the [\d.]+ MiB of slabs this pack had written were cut from the slab files/);
  t.deepEqual(await slabFileSizes(archive), committed, 'slab files trimmed back to their committed lengths');
  await assertNoDebris(t, archive);
  const list = await diskarcJson<{ streams: Array<{ name: string }> }>('list', '-a', archive);
  t.false(JSON.stringify(list).includes('"cut"'), 'the interrupted stream is not listed');
});

test.serial('a full disk after rolling over to new slab files: the newest pair is cut, filled files stay and are reused', async (t) => {
  const dir = await tempDir(t);
  const mnt = join(dir, 'small');
  await mkdir(mnt);
  t.is((await run('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mnt])).code, 0);
  t.teardown(() => run('umount', [mnt]));
  const archive = join(mnt, 'arc');
  await diskarcJson('create', '-a', archive, '--slab-file-limit', '2MiB');
  const a = join(dir, 'a');
  await writeFile(a, randomBytes(1 << 20));
  const first = await diskarcJson<{ id: string }>('pack', '-a', archive, a);
  const before = await slabFileSizes(archive);

  const big = join(dir, 'big');
  await writeFile(big, randomBytes(24 << 20));
  const full = await diskarc('pack', '-a', archive, big, '--json');
  t.is(full.code, 13, full.stderr);
  t.regex(full.stderr, /nothing was committed; the [\d.]+ MiB of slabs this pack had written were cut from the slab files, and [\d.]+ MiB it had written to slab files it filled stay, for later packs to reuse/);
  const err = JSON.parse(full.stdout).error;
  t.true(err.slabBytesKept > 0);
  const after = await slabFileSizes(archive);
  const files = Object.keys(after).filter((k) => /^data\/\d{6}\.slab$/.test(k));
  t.true(files.length >= 3, `rolled over: ${files.join(', ')}`);
  t.is(after[files[files.length - 1]], 16, 'the newest data file, made by the failed pack, is cut to its header');
  t.true(after['data/000000.slab'] >= before['data/000000.slab'], 'a file another follows is never cut');

  // The kept slabs are intact and indexed: the next pack dedups against them and all verifies.
  const again = await diskarc('pack', '-a', archive, a, '--name', 'again', '--json');
  t.is(again.code, 0, again.stderr);
  t.is(JSON.parse(again.stdout).dataWritten, 0);
  const part = join(dir, 'part');
  await writeFile(part, (await readFile(big)).subarray(0, 2 << 20));
  const reused = await diskarc('pack', '-a', archive, part, '--json');
  t.is(reused.code, 0, reused.stderr);
  t.true(JSON.parse(reused.stdout).duplicateBytes > 1 << 20, 'chunks of the kept slabs are reused');
  for (const s of [first.id, 'again', 'part']) {
    const v = await diskarc('verify', '-a', archive, '-s', s);
    t.is(v.code, 0, v.stderr);
  }
});

test('a pack killed outright (SIGKILL) leaves a tail and an uncommitted stream: the next pack removes both (and an older diskarc\'s temporary directory)', async (t) => {
  const dir = await tempDir(t);
  const archive = join(dir, 'arc');
  await diskarcJson('create', '-a', archive);
  const a = join(dir, 'a');
  await writeFile(a, randomBytes(1 << 20));
  const first = await diskarcJson<{ id: string }>('pack', '-a', archive, a);
  const committed = await slabFileSizes(archive);
  const { child, exited } = await packMidway(t, dir, archive, committed);
  child.kill('SIGKILL');
  await exited;
  t.is((await uncommittedStreams(archive)).length, 1, 'the killed pack left its map without a meta.json');
  // What a killed pack of an older diskarc left: a temporary directory, meta.json included.
  const old = join(archive, 'streams', '.tmp-0123456789abcdef');
  await mkdir(old);
  for (const f of ['map', 'map.index', 'meta.json']) await writeFile(join(old, f), 'x');

  const b = join(dir, 'b');
  await writeFile(b, randomBytes(1 << 20));
  const next = await diskarc('pack', '-a', archive, b, '--json');
  t.is(next.code, 0, next.stderr);
  const written = JSON.parse(next.stdout) as { dataWritten: number };
  t.is((await slabFileSizes(archive))['data/000000.slab'], committed['data/000000.slab'] + written.dataWritten, 'the dead pack\'s slabs were cut before appending');
  await assertNoDebris(t, archive);
  for (const s of [first.id, 'b']) t.is((await diskarc('verify', '-a', archive, '-s', s)).code, 0);
});

test.serial('a disk already full: exit 13 while taking the lock, no empty lock left behind', async (t) => {
  const dir = await tempDir(t);
  const mnt = join(dir, 'full');
  await mkdir(mnt);
  t.is((await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt])).code, 0);
  t.teardown(() => run('umount', [mnt]));
  const archive = join(mnt, 'arc');
  await diskarcJson('create', '-a', archive);
  const fill = await run('sh', ['-c', `cat /dev/zero > "${join(mnt, 'filler')}"`]);
  t.not(fill.code, 0, 'the filler ran out of space');
  const input = join(dir, 'input');
  await writeFile(input, randomBytes(64 << 10));
  const r = await diskarc('pack', '-a', archive, input);
  t.is(r.code, 13, r.stderr);
  t.regex(r.stderr, /no space left on the device while taking the write lock of archive/);
  await assertNoDebris(t, archive);
});
