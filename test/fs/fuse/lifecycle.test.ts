// Mount lifecycle on real FUSE mounts: SIGTERM unmounts, background mode returns once the mount
// is ready, umount detaches it, and a stale mount left by kill -9 is detected with its fix.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, diskarc, isMounted, packArchive, run, seededBytes, startMount } from './helpers.js';
import { writeFile } from 'node:fs/promises';

let dir: string;
let archive: string;
let image: string;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-fuse-life-'));
  image = join(dir, 'small.img');
  await writeFile(image, seededBytes(3 * 1024 * 1024 + 123, 3));
  archive = await packArchive(dir, [{ path: image, name: 'small' }]);
});

test.after.always(async () => {
  for (const mp of ['m1', 'm2', 'm3', 'm4', 'm5']) {
    if (await isMounted(join(dir, mp))) await run('fusermount3', ['-u', '-z', join(dir, mp)]);
  }
  await rm(dir, { recursive: true, force: true });
});

async function waitFor(pred: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // Re-parented to a pid 1 that does not reap, an exited process lingers as a zombie.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('SIGTERM unmounts and the process exits 0, leaving nothing in /proc/mounts', async (t) => {
  const mp = join(dir, 'm1');
  const m = await startMount(archive, mp, ['-s', 'small']);
  t.is((await run('cmp', [join(mp, 'disk.img'), image])).code, 0);
  m.child.kill('SIGTERM');
  t.is(await m.exited, 0, m.stderr());
  t.false(await isMounted(mp));
});

test('without --foreground, mount returns once ready; umount detaches and the server exits', async (t) => {
  const mp = join(dir, 'm2');
  await mkdir(mp, { recursive: true });
  const r = await diskarc('mount', '-a', archive, mp, '--json');
  t.is(r.code, 0, r.stderr);
  const { pid, mounted } = JSON.parse(r.stdout);
  t.is(mounted, mp);
  // Ready means mounted: no polling needed before the first read.
  t.true(await isMounted(mp));
  t.is((await run('cmp', [join(mp, 'small', 'disk.img'), image])).code, 0);
  const u = await diskarc('umount', mp);
  t.is(u.code, 0, u.stderr);
  t.false(await isMounted(mp));
  t.true(await waitFor(async () => !alive(pid)), 'the background server exits after umount');
  const again = await diskarc('umount', mp);
  t.is(again.code, 2);
  t.regex(again.stderr, /nothing is mounted/);
});

test('a stale mount left by kill -9 is reported with the command that fixes it', async (t) => {
  const mp = join(dir, 'm3');
  const m = await startMount(archive, mp);
  m.child.kill('SIGKILL');
  await m.exited;
  t.true(await isMounted(mp), 'the kernel keeps the dead mount');
  const r = await diskarc('mount', '-a', archive, mp, '--foreground');
  t.is(r.code, 11);
  t.true(r.stderr.includes(`fusermount3 -u ${mp}`), r.stderr);
  t.regex(r.stderr, /stale FUSE mount/);
  // The suggested command (via diskarc umount) clears it, and mounting works again.
  const u = await diskarc('umount', mp);
  t.is(u.code, 0, u.stderr);
  t.false(await isMounted(mp));
  const m2 = await startMount(archive, mp);
  t.is((await run('cmp', [join(mp, 'small', 'disk.img'), image])).code, 0);
  t.is(await m2.stop(), 0);
});

test('a stale mount is recognised even when its attributes were cached (stat, then kill -9)', async (t) => {
  const mp = join(dir, 'm4');
  const m = await startMount(archive, mp);
  // A real stat (and a listing) by another process: the kernel now holds the root's attributes
  // for an hour (attr_timeout), so stat() of the dead mount will still succeed.
  t.is((await run('stat', [mp])).code, 0);
  t.is((await run('ls', ['-l', join(mp, 'small')])).code, 0);
  m.child.kill('SIGKILL');
  await m.exited;
  t.true(await isMounted(mp), 'the kernel keeps the dead mount');
  t.is((await run('stat', [mp])).code, 0, 'stat is answered from the cache: the case being tested');
  for (const args of [['--foreground'], []]) {
    const r = await diskarc('mount', '-a', archive, mp, ...args);
    t.is(r.code, 11, r.stderr);
    t.regex(r.stderr, /stale FUSE mount/);
    t.true(r.stderr.includes(`fusermount3 -u ${mp}`), r.stderr);
  }
  const u = await diskarc('umount', mp, '--json');
  t.is(u.code, 0, u.stderr);
  t.true(JSON.parse(u.stdout).stale, u.stdout);
  t.false(await isMounted(mp));
});

test('--exit-with-parent: when the process that started the mount is killed (SIGKILL), the mount goes and the server exits', async (t) => {
  const mp = join(dir, 'm5');
  await mkdir(mp, { recursive: true });
  // The parent: a shell that starts the mount (no -f: --exit-with-parent keeps it attached), prints
  // its pid and waits. Its stdout reaches us only through the server's own "mounted" line.
  const parent = spawn(
    'bash',
    ['-c', `"$0" "$1" mount -a "$2" "$3" --exit-with-parent --json & echo "server $!"; wait`, process.execPath, CLI, archive, mp],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  parent.stdout.on('data', (d) => (out += d));
  parent.stderr.on('data', (d) => (err += d));
  t.true(await waitFor(async () => /"mounted"/.test(out), 20_000), `not mounted: ${out} ${err}`);
  const pid = Number(/server (\d+)/.exec(out)![1]);
  t.teardown(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  t.true(await isMounted(mp));
  t.is((await run('cmp', [join(mp, 'small', 'disk.img'), image])).code, 0);
  const killedAt = Date.now();
  parent.kill('SIGKILL');
  t.true(
    await waitFor(async () => !(await isMounted(mp)) && !alive(pid), 5_000),
    `after the parent's death: mounted ${await isMounted(mp)}, server alive ${alive(pid)}; ${err}`,
  );
  t.log(`mount gone and server exited ${Date.now() - killedAt} ms after the parent was killed`);
});
