// unpack under faults: a full disk (a real 20 MiB tmpfs) and damaged slab data (a payload byte
// flipped in a copy of the archive). A file --create made is removed; an existing destination is
// reported restored up to an offset, and is byte-exact below it. An interrupted --create removes its file too.
import test from 'ava';
import { cp, open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, diskarc, diskarcJson, run, seededBytes, tempDir } from './harness.js';

const MiB = 1024 * 1024;

/** Packs `input` into a new archive; returns the archive and the stream id. */
async function packed(dir: string, input: Buffer): Promise<{ archive: string; id: string }> {
  const path = join(dir, 'in');
  await writeFile(path, input);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, path);
  return { archive, id };
}

/** A copy of the archive with one payload byte of its last data slab flipped. */
async function damagedCopy(archive: string, dir: string): Promise<string> {
  const copy = join(dir, 'damaged');
  await cp(archive, copy, { recursive: true });
  const file = join(copy, 'data', '000000.slab');
  const offsets = await readFile(`${file}.offsets`);
  const last = Number(offsets.readBigUInt64LE(offsets.length - 8));
  const fh = await open(file, 'r+');
  const b = Buffer.alloc(1);
  const at = last + 24 + 1000; // 24-byte slab header (format.md §3), then the payload
  await fh.read(b, 0, 1, at);
  b[0] ^= 0x5a;
  await fh.write(b, 0, 1, at);
  await fh.close();
  return copy;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

test('unpack --create onto a full filesystem: exit 13, says so, and removes the file it made', async (t) => {
  const dir = await tempDir(t);
  const { archive, id } = await packed(dir, seededBytes(32 * MiB, 3));
  const mnt = join(dir, 'full');
  await run('mkdir', [mnt]);
  const m = await run('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt]);
  t.is(m.code, 0, m.stderr);
  t.teardown(() => run('umount', [mnt]));
  const out = join(mnt, 'restored.img');
  const r = await diskarc('unpack', '-a', archive, '-s', id, out, '--create', '--json');
  t.is(r.code, 13, r.stderr);
  t.regex(r.stderr, /no space left on the device while writing .*restored\.img/);
  t.regex(r.stderr, /restored\.img was removed/);
  t.notRegex(r.stderr, /internal error/);
  const err = (JSON.parse(r.stdout) as { error: { code: string; removed: boolean } }).error;
  t.is(err.code, 'ENOSPACE');
  t.true(err.removed);
  t.false(await exists(out), 'no partial file is left behind');
  t.deepEqual(await readdir(mnt), []);
});

test('unpack --create that meets damaged data: exit 8 and the partial file is removed', async (t) => {
  const dir = await tempDir(t);
  const { archive, id } = await packed(dir, seededBytes(12 * MiB, 4));
  const damaged = await damagedCopy(archive, dir);
  const out = join(dir, 'restored.img');
  const r = await diskarc('unpack', '-a', damaged, '-s', id, out, '--create');
  t.is(r.code, 8, r.stderr);
  t.regex(r.stderr, /checksum|damaged|corrupt/i);
  t.regex(r.stderr, /restored\.img was removed \(--create made it/);
  t.false(await exists(out));
  // The intact archive still restores: the fault is the copy's.
  t.is((await diskarc('unpack', '-a', archive, '-s', id, out, '--create')).code, 0);
});

test('unpack onto an existing file that meets damaged data: exit 8, names the offset restored up to, bytes below it are right', async (t) => {
  const dir = await tempDir(t);
  const input = seededBytes(12 * MiB, 5);
  const { archive, id } = await packed(dir, input);
  const damaged = await damagedCopy(archive, dir);
  const dest = join(dir, 'dest.img');
  await writeFile(dest, Buffer.alloc(input.length, 0xaa));
  const r = await diskarc('unpack', '-a', damaged, '-s', id, dest, '--json');
  t.is(r.code, 8, r.stderr);
  const err = (JSON.parse(r.stdout) as { error: { code: string; restoredBytes: number } }).error;
  t.is(err.code, 'ECORRUPT');
  const at = err.restoredBytes;
  // The damaged slab holds the stream's last chunks: everything before its 8 MiB batch is restored.
  t.true(at > 0 && at < input.length, `restored up to ${at}`);
  t.regex(r.stderr, new RegExp(`dest\\.img is restored up to offset ${at} \\(bytes 0-${at - 1}\\)`));
  const now = await readFile(dest);
  t.true(now.subarray(0, at).equals(input.subarray(0, at)), 'the reported range really is restored');
  t.is(now.length, input.length);
});

test('unpack --create interrupted (SIGINT): exit 130 and the partial file is removed', async (t) => {
  const dir = await tempDir(t);
  const { archive, id } = await packed(dir, seededBytes(64 * MiB, 6));
  const out = join(dir, 'restored.img');
  const child = spawn(process.execPath, [CLI, 'unpack', '-a', archive, '-s', id, out, '--create'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Interrupt as soon as the restore has begun writing.
  while (!(await stat(out).then((s) => s.blocks > 0, () => false)) && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGINT');
  t.is(await exited, 130, stderr);
  t.regex(stderr, /interrupted; .*restored\.img was removed/);
  t.false(await exists(out));
});
