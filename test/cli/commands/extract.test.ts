// `diskarc extract` into a destination that already has some of the paths, as a user runs it:
// refused before anything is written (naming the paths), or --skip-existing / --overwrite.
// On the generated links image: files, directories, Interix and Windows links.
import test from 'ava';
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../../archive/harness.js';
import { makeLinkImage } from '../../fixtures/ntfs/link-fixture.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function diskarc(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

let tmp = '';
let image = '';
let fresh = '';

test.before(async (t) => {
  t.timeout(60_000);
  tmp = await mkdtemp(join(tmpdir(), 'diskarc-extract-'));
  image = await makeLinkImage(tmp);
  fresh = join(tmp, 'fresh');
  const r = await diskarc('extract', '--image', image, '/', fresh);
  if (r.code !== 0) throw new Error(r.stderr);
});
test.after.always(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

/**
 * A destination holding three of the volume's paths (a changed file, a file where a link goes, a file where a
 * directory goes), nothing else.
 */
async function partlyThere(name: string): Promise<string> {
  const dest = join(tmp, name);
  await mkdir(join(dest, 'links'), { recursive: true });
  await mkdir(join(dest, 'dir'));
  await writeFile(join(dest, 'doc.txt'), 'mine\n');
  await writeFile(join(dest, 'links', 'rel'), 'not a link\n');
  await writeFile(join(dest, 'dir', 'sub'), 'not a directory\n');
  return dest;
}

test('an existing path is found before anything is written: exit 6, the paths named, nothing extracted', async (t) => {
  const dest = await partlyThere('refused');
  const r = await diskarc('extract', '--json', '--image', image, '/', dest);
  t.is(r.code, 6, r.stderr);
  t.regex(r.stderr, /3 of the paths to extract already exist in .*: .*dir\/sub, .*doc\.txt, .*links\/rel; nothing was written /);
  t.true(r.stderr.includes('nothing was written (--overwrite replaces them, --skip-existing keeps them)'), r.stderr);
  const e = JSON.parse(r.stdout) as { error: { code: string; conflictCount: number; conflicts: string[] } };
  t.is(e.error.code, 'EDEST');
  t.is(e.error.conflictCount, 3);
  t.deepEqual(e.error.conflicts.map((p) => p.slice(dest.length)).sort(), ['/dir/sub', '/doc.txt', '/links/rel']);
  // Nothing written: not the other files, not the links, and the existing ones untouched.
  t.false(await exists(join(dest, 'dir', 'file.txt')));
  t.false(await exists(join(dest, 'links', 'chain1')));
  t.is(await readFile(join(dest, 'doc.txt'), 'utf8'), 'mine\n');
  // A single file onto an existing file is refused the same way.
  const one = await diskarc('extract', '--image', image, '/doc.txt', join(dest, 'doc.txt'));
  t.is(one.code, 6);
  t.regex(one.stderr, /1 of the paths to extract already exist/);
  t.is(await readFile(join(dest, 'doc.txt'), 'utf8'), 'mine\n');
});

test('--skip-existing keeps what is there (and nothing below a kept non-directory) and extracts the rest', async (t) => {
  const dest = await partlyThere('skip');
  const r = await diskarc('extract', '--json', '--skip-existing', '--image', image, '/', dest);
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { skipped: number; replaced: number; files: number };
  t.is(summary.skipped, 3);
  t.is(summary.replaced, 0);
  t.is(await readFile(join(dest, 'doc.txt'), 'utf8'), 'mine\n');
  t.is(await readFile(join(dest, 'links', 'rel'), 'utf8'), 'not a link\n');
  t.is(await readFile(join(dest, 'dir', 'sub'), 'utf8'), 'not a directory\n');
  t.deepEqual(await readFile(join(dest, 'dir', 'file.txt')), await readFile(join(fresh, 'dir', 'file.txt')));
  t.is(await readlink(join(dest, 'links', 'win-drive')), '../doc.txt');
});

test('--overwrite replaces files and links (a file in the way of a directory too), never a directory', async (t) => {
  const dest = await partlyThere('overwrite');
  const r = await diskarc('extract', '--json', '--overwrite', '--image', image, '/', dest);
  t.is(r.code, 0, r.stderr);
  t.is((JSON.parse(r.stdout) as { replaced: number }).replaced, 3);
  t.deepEqual(await readFile(join(dest, 'doc.txt')), await readFile(join(fresh, 'doc.txt')));
  t.is(await readlink(join(dest, 'links', 'rel')), '../doc.txt');
  t.deepEqual(await readFile(join(dest, 'dir', 'sub', 'deep.bin')), await readFile(join(fresh, 'dir', 'sub', 'deep.bin')));
  // A directory where a file goes stops it up front, even with --overwrite.
  const blocked = join(tmp, 'blocked');
  await mkdir(join(blocked, 'doc.txt'), { recursive: true });
  const b = await diskarc('extract', '--overwrite', '--image', image, '/', blocked);
  t.is(b.code, 6);
  t.regex(
    b.stderr,
    /directories stand where files or links would be written: .*doc\.txt; --overwrite never removes a directory, nothing was written/,
  );
  t.false(await exists(join(blocked, 'dir')));
  // A single file onto an existing one.
  await writeFile(join(dest, 'doc.txt'), 'changed again\n');
  t.is((await diskarc('extract', '--overwrite', '--image', image, '/doc.txt', join(dest, 'doc.txt'))).code, 0);
  t.deepEqual(await readFile(join(dest, 'doc.txt')), await readFile(join(fresh, 'doc.txt')));
});

test('--overwrite and --skip-existing together are a usage error', async (t) => {
  const r = await diskarc('extract', '--overwrite', '--skip-existing', '--json', '--image', image, '/', join(tmp, 'never'));
  t.is(r.code, 2);
  t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'EUSAGE');
  t.false(await exists(join(tmp, 'never')));
});
