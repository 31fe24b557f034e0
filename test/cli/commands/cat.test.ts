// `diskarc cat` and `ls -l` on links, as a user runs them, on a generated NTFS image full of
// ntfs-3g-made Interix links and Windows reparse-point links. Oracles: the same image mounted by
// ntfs-3g (the kernel follows its links), and diskarc's own FUSE mount for link sizes/targets.
import test from 'ava';
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../../archive/harness.js';
import { kernelResolve, LINK_PATHS, makeLinkImage, mountNtfs3g } from '../../fixtures/ntfs/link-fixture.js';

const execFileP = promisify(execFile);

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function diskarc(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'buffer', maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: stderr.toString() });
    });
  });
}

let tmp = '';
let image = '';
let ntfs3g = '';
let unmountNtfs3g: (() => Promise<void>) | undefined;

test.before(async (t) => {
  t.timeout(60_000);
  tmp = await mkdtemp(join(tmpdir(), 'diskarc-cat-links-'));
  image = await makeLinkImage(tmp);
  ntfs3g = join(tmp, 'ntfs-3g');
  unmountNtfs3g = await mountNtfs3g(image, ntfs3g);
});
test.after.always(async () => {
  await unmountNtfs3g?.();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('cat follows each link as the kernel does on the ntfs-3g mount: same bytes, or a refusal that names why', async (t) => {
  const outcomes = new Set<string>();
  for (const path of LINK_PATHS) {
    const kernel = await kernelResolve(ntfs3g, path);
    const r = await diskarc('cat', '--image', image, path, '--json');
    if (kernel.kind === 'inside') {
      const st = await lstat(ntfs3g + kernel.path);
      if (st.isDirectory()) {
        t.is(r.code, 2, `${path} (a directory): ${r.stderr}`);
        t.regex(r.stderr, /is a directory, not a file/);
      } else {
        t.is(r.code, 0, `${path}: ${r.stderr}`);
        t.true(r.stdout.equals(await readFile(ntfs3g + kernel.path)), `${path}: the bytes of ${kernel.path}`);
      }
    } else {
      // Refused with the "not found" class, a JSON error, and the reason.
      t.is(r.code, 10, `${path}: ${r.stderr}`);
      t.is(JSON.parse(r.stdout.toString()).error.code, 'ENOTFOUND', path);
      const why =
        kernel.kind === 'loop'
          ? /too many levels of symbolic links/
          : kernel.kind === 'outside'
            ? /points outside the NTFS volume/
            : /points outside the NTFS volume|no such file or directory in the NTFS volume \(following/;
      t.regex(r.stderr, why, path);
    }
    outcomes.add(kernel.kind);
  }
  // The image exercises every kind of outcome.
  t.deepEqual([...outcomes].sort(), ['inside', 'loop', 'missing', 'outside']);
  // The specific reasons a user reads.
  t.regex(
    (await diskarc('cat', '--image', image, '/links/escape')).stderr,
    /link \/links\/escape -> \.\.\/\.\.\/outside\.txt points outside the NTFS volume \(it leads above the volume root\)/,
  );
  t.regex(
    (await diskarc('cat', '--image', image, '/links/win-unc')).stderr,
    /-> \/\/server\/share\/doc\.txt points outside the NTFS volume \(it is a network \(UNC\) path\)/,
  );
  t.regex(
    (await diskarc('cat', '--image', image, '/links/host-absolute')).stderr,
    /-> \/etc\/hostname points outside the NTFS volume \(it is an absolute path of the system that made the link/,
  );
  t.regex(
    (await diskarc('cat', '--image', image, '/links/dangling')).stderr,
    /no such file or directory in the NTFS volume \(following \/links\/dangling -> nothing-here\.txt\)/,
  );
  t.regex((await diskarc('cat', '--image', image, '/links/loop-a')).stderr, /too many levels of symbolic links \(more than 40 followed/);
});

test('cat of a directory, or of a link to one, is a usage error (exit 2), not a malformed filesystem', async (t) => {
  for (const path of ['/dir', '/links/junction', '/links/dirlink', '/']) {
    const r = await diskarc('cat', '--image', image, path, '--json');
    t.is(r.code, 2, `${path}: ${r.stderr}`);
    t.regex(r.stderr, /is a directory, not a file: list it with diskarc ls, copy it out with diskarc extract/);
    t.is(JSON.parse(r.stdout.toString()).error.code, 'EISDIR');
  }
});

interface LsJson {
  entries: Array<{ path: string; type: string; size: number; linkTarget?: string; storedTarget?: string }>;
}

test(
  "ls -l: a link's size is its target's length, and size and target equal what diskarc's mount shows (and ntfs-3g's, for " +
    'relative targets)',
  async (t) => {
    t.timeout(60_000);
    const archive = join(tmp, 'arc');
    const mnt = join(tmp, 'diskarc-mount');
    for (const args of [
      ['create', '-a', archive],
      ['pack', '-a', archive, image, '--name', 'links', '--no-verify'],
    ]) {
      const r = await diskarc(...args);
      t.is(r.code, 0, r.stderr);
    }
    const listing = JSON.parse((await diskarc('ls', '-l', '--json', '--image', image, '/links')).stdout.toString()) as LsJson;
    const deeper = JSON.parse((await diskarc('ls', '-l', '--json', '--image', image, '/links/deeper')).stdout.toString()) as LsJson;
    const links = [...listing.entries, ...deeper.entries.map((e) => ({ ...e, path: `deeper/${e.path}` }))].filter(
      (e) => e.type === 'symlink',
    );
    t.is(links.length, 16);
    const text = (await diskarc('ls', '-l', '--image', image, '/links')).stdout.toString();
    await mkdir(mnt);
    await execFileP(process.execPath, [CLI, 'mount', '-a', archive, '-s', 'links', mnt]);
    try {
      for (const e of links) {
        const inMount = join(mnt, 'fs', 'links', e.path);
        const st = await lstat(inMount);
        t.true(st.isSymbolicLink(), e.path);
        t.is(e.size, st.size, `${e.path}: ls -l size = the mount's lstat size`);
        t.is(e.linkTarget, await readlink(inMount), `${e.path}: the same target`);
        t.is(e.size, Buffer.byteLength(e.linkTarget!));
        if (!e.path.includes('/'))
          t.regex(text, new RegExp(`^l +${e.size} B .* ${e.path} -> ${e.linkTarget!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
        if (e.storedTarget === undefined && !e.linkTarget!.startsWith('/')) {
          // ntfs-3g presents absolute Windows targets under its own mount point; relative ones as stored.
          t.is(e.size, (await lstat(join(ntfs3g, 'links', e.path))).size, `${e.path}: ntfs-3g's lstat size`);
        }
      }
    } finally {
      await execFileP(process.execPath, [CLI, 'umount', mnt]);
    }
    // The Interix link's stored bytes (IntxLNK\1 + UTF-16) are never its size.
    t.is(listing.entries.find((e) => e.path === 'rel')!.size, '../doc.txt'.length);
    t.is(listing.entries.find((e) => e.path === 'win-drive')!.storedTarget, 'D:/doc.txt');
  },
);

test('ls follows a link to a directory named on the command line unless -l, and paths through links resolve', async (t) => {
  const names = async (...args: string[]) =>
    (JSON.parse((await diskarc('ls', '--json', '--image', image, ...args)).stdout.toString()) as LsJson).entries.map((e) => e.path);
  t.deepEqual(await names('/links/junction'), ['file.txt', 'sub']);
  t.deepEqual(await names('/links/dirlink'), ['file.txt', 'sub']);
  t.deepEqual(await names('-l', '/links/junction'), ['junction']);
  t.deepEqual(await names('/links/junction/sub'), ['deep.bin']);
  t.deepEqual(await names('-R', '/links/dirlink'), ['file.txt', 'sub', 'sub/deep.bin']);
  // A dangling link is listed as the link itself.
  t.deepEqual(await names('/links/dangling'), ['dangling']);
});
