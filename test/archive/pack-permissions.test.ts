// pack into an archive it may not write: a clear permission error (exit 14) naming what was
// being done, never "internal error" — as a non-root user on a root-owned archive, and as root
// on a read-only filesystem (a real tmpfs remounted read-only). Nothing is left behind.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, diskarcJson, run, tempDir } from './harness.js';

/** Runs diskarc as the unprivileged user `nobody` (setpriv: no shell, no PAM). */
function asNobody(...args: string[]) {
  return run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, CLI, ...args]);
}

async function archiveWithInput(t: Parameters<typeof tempDir>[0], root: string) {
  const archive = join(root, 'arc');
  await diskarcJson('create', '-a', archive);
  const input = join(root, 'input');
  await writeFile(input, randomBytes(1 << 20));
  await chmod(root, 0o755);
  await chmod(input, 0o644);
  return { archive, input };
}

test('a root-owned archive, packed into by nobody: exit 14 naming the lock', async (t) => {
  const { archive, input } = await archiveWithInput(t, await tempDir(t));
  const r = await asNobody('pack', '-a', archive, input, '--json');
  t.is(r.code, 14, r.stderr);
  t.regex(r.stderr, /permission denied while taking the write lock of archive .*\/lock\): run as a user who may access it/);
  t.notRegex(r.stderr, /internal error/);
  t.is(JSON.parse(r.stdout).error.code, 'EPERMISSION');
});

test('an archive whose directory nobody may write but whose slab files are root\'s: exit 14 naming the archive, lock released', async (t) => {
  const { archive, input } = await archiveWithInput(t, await tempDir(t));
  await diskarcJson('pack', '-a', archive, input);
  await chmod(archive, 0o777); // the lock can be taken, the slab files cannot be written
  const before = (await stat(join(archive, 'data', '000000.slab'))).size;
  const r = await asNobody('pack', '-a', archive, input);
  t.is(r.code, 14, r.stderr);
  t.regex(r.stderr, /permission denied while opening archive .* for writing/);
  t.false((await readdir(archive)).includes('lock'), 'lock released');
  t.is((await stat(join(archive, 'data', '000000.slab'))).size, before);
});

test.serial('an archive on a read-only filesystem (real tmpfs remounted ro): exit 14, read-only named', async (t) => {
  const dir = await tempDir(t);
  const mnt = join(dir, 'ro');
  await mkdir(mnt);
  t.is((await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt])).code, 0);
  t.teardown(() => run('umount', [mnt]));
  const archive = join(mnt, 'arc');
  await diskarcJson('create', '-a', archive);
  const input = join(dir, 'input');
  await writeFile(input, randomBytes(1 << 20));
  t.is((await run('mount', ['-o', 'remount,ro', mnt])).code, 0);
  const r = await run(process.execPath, [CLI, 'pack', '-a', archive, input, '--json']);
  t.is(r.code, 14, r.stderr);
  t.regex(r.stderr, /read-only filesystem while taking the write lock of archive/);
  t.is(JSON.parse(r.stdout).error.code, 'EPERMISSION');
});

test('too few file descriptors (ulimit -n): exit 16 naming what could not start, never an internal error', async (t) => {
  const dir = await tempDir(t);
  const { archive, input } = await archiveWithInput(t, dir);
  const codes: number[] = [];
  // Near 32 Node itself may not load diskarc's modules (it opens many at once): that run tells
  // nothing about pack and is skipped — recognised as Node's loader failing before diskarc ran.
  // From there up, pack runs out somewhere, then succeeds.
  for (const limit of [32, 33, 34, 35, 36, 40, 64]) {
    const r = await run('sh', ['-c', `ulimit -n ${limit}; exec "${process.execPath}" "${CLI}" pack -a "${archive}" "${input}" --name n${limit}`]);
    if (r.code === 1 && /^node:internal\/(modules|fs)\//.test(r.stderr) && !/diskarc:/.test(r.stderr)) continue;
    t.notRegex(r.stderr, /internal error/, `ulimit -n ${limit}`);
    t.true(r.code === 0 || r.code === 16, `ulimit -n ${limit}: exit ${r.code}: ${r.stderr}`);
    if (r.code === 16) t.regex(r.stderr, /too many open files while .*: raise the limit \(ulimit -n\)/);
    codes.push(r.code ?? -1);
  }
  t.true(codes.includes(16), `some limit ran out of descriptors (${codes.join(', ')})`);
  t.true(codes.includes(0), 'and a larger one packed');
  t.false((await readdir(archive)).includes('lock'), 'lock released');
});
