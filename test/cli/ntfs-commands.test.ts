// `diskarc ls / cat / extract` end to end, as a user runs them (child processes): on a raw
// NTFS image, on an archived stream, and on a partition of an archived disk — every answer
// compared with the fixtures' oracle (The Sleuth Kit + ntfsprogs).
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, open, readFile, readlink, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ntfsFixtures, type NtfsFixtureImage } from '../fixtures/ntfs/fixtures.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function diskarc(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: stderr.toString() });
    });
  });
}

async function ok(args: string[]): Promise<Buffer> {
  const r = await diskarc(args);
  if (r.code !== 0) throw new Error(`diskarc ${args.join(' ')} → exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function tool(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${err}`))));
    // A tool that exits without reading its stdin makes this write fail with EPIPE; its exit
    // status already says how it went. Any other error fails the run.
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e);
    });
    child.stdin.end(input ?? '');
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sha256File = async (p: string) => sha(await readFile(p));

let images: NtfsFixtureImage[] = [];
let tmp = '';
let archive = '';
/** A GPT disk with c4k at 1 MiB as p1, and an MBR disk with c4k (p1) and c512 (p2). */
let gptDisk = '';
let mbrDisk = '';
const MiB = 1 << 20;

/** Copies `image` into `disk` at `offset`, writing only non-zero blocks (keeps the disk sparse). */
async function place(image: string, disk: string, offset: number): Promise<void> {
  const data = await readFile(image);
  const fh = await open(disk, 'r+');
  try {
    for (let o = 0; o < data.length; o += 65536) {
      const block = data.subarray(o, o + 65536);
      if (block.some((b) => b !== 0)) await fh.write(block, 0, block.length, offset + o);
    }
  } finally {
    await fh.close();
  }
}

test.before(async (t) => {
  t.timeout(10 * 60_000, 'NTFS fixtures build + archive');
  images = (await ntfsFixtures()).images;
  tmp = await mkdtemp(join(tmpdir(), 'diskarc-ntfs-cli-'));
  const c4k = byName('c4k');
  const c512 = byName('c512');
  const size4k = (await stat(c4k.image)).size;
  const size512 = (await stat(c512.image)).size;
  gptDisk = join(tmp, 'gpt.img');
  await truncate(gptDisk, 0).catch(() => undefined);
  await (await open(gptDisk, 'w')).close();
  await truncate(gptDisk, size4k + 3 * MiB);
  await tool('sgdisk', ['-n', `1:2048:+${size4k / 512}`, '-t', '1:0700', gptDisk]);
  await place(c4k.image, gptDisk, MiB);
  mbrDisk = join(tmp, 'mbr.img');
  await (await open(mbrDisk, 'w')).close();
  await truncate(mbrDisk, size4k + size512 + 3 * MiB);
  await tool(
    'sfdisk',
    ['-q', mbrDisk],
    `label: dos\nstart=2048, size=${size4k / 512}, type=7\nstart=${2048 + size4k / 512}, size=${size512 / 512}, type=7\n`,
  );
  await place(c4k.image, mbrDisk, MiB);
  await place(c512.image, mbrDisk, MiB + size4k);
  archive = join(tmp, 'archive');
  await ok(['create', '-a', archive]);
  await ok(['pack', '-a', archive, c512.image, '--name', 'c512']);
  await ok(['pack', '-a', archive, gptDisk, '--name', 'disk']);
});

test.after.always(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function byName(name: string): NtfsFixtureImage {
  const i = images.find((x) => x.name === name);
  if (!i) throw new Error(`no fixture ${name}`);
  return i;
}

interface LsJson {
  source: string;
  entries: Array<{
    path: string;
    type: string;
    size: number;
    mtime: string;
    linkTarget?: string;
    storedTarget?: string;
    mftRecord: number;
    streams: Array<{ name: string; size: number }>;
  }>;
}

/**
 * Asserts an `ls -R --json` listing equals the oracle: paths, types, sizes, mtimes, targets, streams.
 * A link's stored target is the oracle's; its size is the length of the target ls presents.
 */
function assertListing(t: import('ava').ExecutionContext, listing: LsJson, img: NtfsFixtureImage, prefix = ''): void {
  const want = img.oracle.entries
    .filter((e) => e.path.startsWith(prefix))
    .map((e) => ({
      path: e.path.slice(prefix.length),
      type: e.type,
      size: e.type === 'directory' ? 0 : e.type === 'symlink' ? 'target length' : e.size,
      mtime: e.mtime,
      linkTarget: e.linkTarget?.replace(/\\/g, '/'),
      mftRecord: e.mftRecord,
      streams: e.streams
        .map((s) => `${s.name}=${s.size}`)
        .sort()
        .join(','),
    }));
  const got = listing.entries.map((e) => ({
    path: e.path,
    type: e.type,
    size:
      e.type === 'directory'
        ? 0
        : e.type === 'symlink'
          ? e.size === Buffer.byteLength(e.linkTarget ?? '')
            ? 'target length'
            : e.size
          : e.size,
    mtime: e.mtime,
    linkTarget: e.storedTarget ?? e.linkTarget,
    mftRecord: e.mftRecord,
    streams: e.streams
      .map((s) => `${s.name}=${s.size}`)
      .sort()
      .join(','),
  }));
  const key = (x: { path: string }) => x.path;
  t.deepEqual(
    got.sort((a, b) => key(a).localeCompare(key(b))),
    want.sort((a, b) => key(a).localeCompare(key(b))),
  );
}

test('ls -R --json on an image lists exactly what the oracle lists', async (t) => {
  for (const name of ['c4k', 'c64k']) {
    const img = byName(name);
    const listing = JSON.parse((await ok(['ls', '-R', '--json', '--image', img.image])).toString()) as LsJson;
    t.true(listing.entries.length > 1000);
    assertListing(t, listing, img);
  }
});

test('ls -l shows sizes, link targets and streams; ls of one file shows that file', async (t) => {
  const img = byName('c4k');
  const long = (await ok(['ls', '-l', '--image', img.image, '/links'])).toString();
  t.regex(long, /^l .* relative-symlink -> original\.txt$/m);
  // Drive-absolute targets are presented relative to the link, as the mount presents them.
  t.regex(long, /^l +19 B .* junction -> \.\.\/links\/target-dir$/m);
  t.regex(long, /^l +12 B .* interix-relative -> original\.txt$/m);
  t.regex(long, /^- .*original\.txt$/m);
  const ads = (await ok(['ls', '-l', '--image', img.image, '/ads'])).toString();
  t.regex(ads, /file-with-streams\.txt:meta$/m);
  const one = JSON.parse((await ok(['ls', '--json', '--image', img.image, '/LINKS/ORIGINAL.TXT'])).toString()) as LsJson;
  t.deepEqual(
    one.entries.map((e) => [e.path, e.size]),
    [['original.txt', img.oracle.entries.find((e) => e.path === 'links/original.txt')!.size]],
  );
  const sys = (await ok(['ls', '--system', '--image', img.image])).toString().split('\n');
  t.true(sys.includes('$MFT') && sys.includes('$Bitmap'));
  t.false((await ok(['ls', '--image', img.image])).toString().split('\n').includes('$MFT'));
});

test('cat writes files and alternate data streams byte-exact (compressed, sparse, fragmented, WOF)', async (t) => {
  const img = byName('c4k');
  const picks = img.oracle.features
    .filter((f) => ['compressed', 'sparse', 'wof', 'nonresident', 'unicode', 'name255'].includes(f.feature) && f.ok)
    .map((f) => f.path);
  t.true(picks.length >= 8);
  for (const p of picks) {
    const e = img.oracle.entries.find((x) => x.path === p)!;
    if (e.type !== 'file') continue;
    t.is(sha(await ok(['cat', '--image', img.image, '/' + p])), e.sha256 ?? 'no oracle sha256', p);
  }
  const withStreams = img.oracle.entries.find((e) => e.streams.length >= 3)!;
  for (const s of withStreams.streams)
    t.is(
      sha(await ok(['cat', '--image', img.image, `/${withStreams.path}:${s.name}`])),
      s.sha256 ?? 'no oracle sha256',
      `${withStreams.path}:${s.name}`,
    );
});

test('cat into a closed pipe ends quietly (EPIPE), and errors have distinct exit codes', async (t) => {
  const img = byName('c64k');
  const r = await new Promise<{ code: number | null; stderr: string; out: number }>((resolve) => {
    const child = spawn(process.execPath, [CLI, 'cat', '--image', img.image, '/huge/5GiB-sparse.bin'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let out = 0;
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.once('data', (b: Buffer) => {
      out = b.length;
      child.stdout.destroy();
    });
    child.on('close', (code) => resolve({ code, stderr, out }));
  });
  t.true(r.out > 0);
  t.is(r.code, 0);
  t.is(r.stderr, '');
  const missing = await diskarc(['cat', '--image', byName('c4k').image, '/no/such/file']);
  t.is(missing.code, 10);
  t.regex(missing.stderr, /no such file/);
  const notNtfs = join(tmp, 'zeros.img');
  await (await open(notNtfs, 'w')).close();
  await truncate(notNtfs, 4 * MiB);
  const bad = await diskarc(['ls', '--image', notNtfs]);
  t.is(bad.code, 9);
  // A directory is the user's mistake (usage, exit 2), not a malformed filesystem.
  const dir = await diskarc(['cat', '--image', byName('c4k').image, '/links', '--json']);
  t.is(dir.code, 2);
  t.regex(dir.stderr, /\/links is a directory, not a file: list it with diskarc ls/);
  t.is(JSON.parse(dir.stdout.toString()).error.code, 'EISDIR');
});

test('extract / --streams recreates the tree: content, mtimes, symlinks, hard links, streams, sparseness', async (t) => {
  const img = byName('c4k');
  const dest = join(tmp, 'extract-c4k');
  const summary = JSON.parse((await ok(['extract', '--json', '--streams', '--image', img.image, '/', dest])).toString());
  t.deepEqual(summary.errors, []);
  const byRecord = new Map<number, number>();
  for (const e of img.oracle.entries) {
    const p = join(dest, ...e.path.split('/'));
    const st = await lstat(p);
    if (e.type === 'symlink') {
      t.true(st.isSymbolicLink(), e.path);
      const stored = e.linkTarget!.replace(/\\/g, '/');
      const drive = /^[A-Za-z]:\/(.*)$/.exec(stored);
      // A drive-absolute target becomes relative, so it leads to the same file inside the extracted tree.
      if (drive) t.is(resolve(dirname(p), await readlink(p)), join(dest, drive[1]!), e.path);
      else t.is(await readlink(p), stored, e.path);
    } else if (e.type === 'directory') {
      t.true(st.isDirectory(), e.path);
    } else {
      t.true(st.isFile(), e.path);
      t.is(st.size, e.size, e.path);
      t.is(await sha256File(p), e.sha256 ?? 'no oracle sha256', e.path);
      const first = byRecord.get(e.mftRecord);
      if (first !== undefined) t.is(st.ino, first, `${e.path} is a hard link`);
      else byRecord.set(e.mftRecord, st.ino);
    }
    if (e.type !== 'symlink' || !e.reparse) t.is(st.mtime.toISOString(), e.mtime, `${e.path} mtime`);
    for (const s of e.streams) t.is(await sha256File(`${p}:${s.name}`), s.sha256 ?? 'no oracle sha256', `${e.path}:${s.name}`);
  }
  const holes = await stat(join(dest, 'sparse', 'all-hole.bin'));
  t.true(holes.blocks * 512 < holes.size / 8, `all-hole.bin uses ${holes.blocks * 512} bytes for ${holes.size}`);
});

test('on an archived stream: ls -R, cat and extract of a subtree equal the oracle', async (t) => {
  const img = byName('c512');
  const listing = JSON.parse((await ok(['ls', '-R', '--json', '-a', archive, '-s', 'c512'])).toString()) as LsJson;
  assertListing(t, listing, img);
  const frag = img.oracle.features.find((f) => f.feature === 'attrlist')!.path;
  t.is(
    sha(await ok(['cat', '-a', archive, '-s', 'c512', '/' + frag])),
    img.oracle.entries.find((e) => e.path === frag)!.sha256 ?? 'no oracle sha256',
  );
  const dest = join(tmp, 'extract-compressed');
  await ok(['extract', '-a', archive, '-s', 'c512', '/compressed', dest]);
  const files = img.oracle.entries.filter((e) => e.path.startsWith('compressed/') && e.type === 'file');
  t.true(files.length >= 3);
  for (const e of files)
    t.is(await sha256File(join(dest, ...e.path.slice('compressed/'.length).split('/'))), e.sha256 ?? 'no oracle sha256', e.path);
  const one = join(tmp, 'one-file.bin');
  await ok(['extract', '-a', archive, '-s', 'c512', '/' + frag, one]);
  t.is(await sha256File(one), img.oracle.entries.find((e) => e.path === frag)!.sha256 ?? 'no oracle sha256');
});

test('on a partition of an archived disk: STREAM:p1, and the only NTFS partition chosen automatically', async (t) => {
  const img = byName('c4k');
  const explicit = JSON.parse((await ok(['ls', '-R', '--json', '-a', archive, '-s', 'disk:p1', '/links'])).toString()) as LsJson;
  assertListing(t, explicit, img, 'links/');
  const auto = JSON.parse((await ok(['ls', '-R', '--json', '-a', archive, '-s', 'disk', '/links'])).toString()) as LsJson;
  t.is(auto.source, 'disk:p1');
  assertListing(t, auto, img, 'links/');
  const big =
    img.oracle.entries.find((e) => e.path === 'basic/random-3000001.bin') ??
    img.oracle.entries.filter((e) => e.type === 'file').sort((a, b) => b.size - a.size)[1];
  t.is(sha(await ok(['cat', '-a', archive, '-s', 'disk:p1', '/' + big.path])), big.sha256 ?? 'no oracle sha256');
});

test('a disk with two NTFS partitions needs :pN; --image FILE:p2 reads the second', async (t) => {
  const two = await diskarc(['ls', '--image', mbrDisk]);
  t.is(two.code, 2);
  t.regex(two.stderr, /2 NTFS partitions \(p1, p2\)/);
  const img = byName('c512');
  const listing = JSON.parse((await ok(['ls', '-R', '--json', '--image', `${mbrDisk}:p2`])).toString()) as LsJson;
  assertListing(t, listing, img);
});
