// On a fresh machine fusectl is not mounted on /sys/fs/fuse/connections, and without it a mount
// cannot lower its connection's max_background (libfuse's pool then churns). A mount run as root
// mounts fusectl itself and tunes the connection; one run by another user says what it loses.
// fusectl is unmounted first and the state found is restored after.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, isMounted, mustSh, packArchive, run, seededBytes, sh, startMount } from './helpers.js';

const FUSECTL = '/sys/fs/fuse/connections';

async function fusectlMounted(): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === FUSECTL && / - fusectl /.test(l));
}

async function unmountFusectl(): Promise<void> {
  // Stacked mounts (two mounters racing) come off one by one.
  while (await fusectlMounted()) await mustSh(`umount ${FUSECTL}`);
}

/** The connection's directory under fusectl, from the mount's "major:minor" in mountinfo. */
async function connectionDir(mp: string): Promise<string> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const line = text.split('\n').reverse().find((l) => l.split(' ')[4] === mp);
  if (!line) throw new Error(`${mp} is not in mountinfo`);
  const [major, minor] = line.split(' ')[2].split(':').map(Number);
  return `${FUSECTL}/${(major << 20) | minor}`;
}

let dir: string;
let archive: string;
let wasMounted: boolean;

test.before(async () => {
  wasMounted = await fusectlMounted();
  dir = await mkdtemp(join(tmpdir(), 'diskarc-fusectl-'));
  await writeFile(join(dir, 'small.img'), seededBytes(1 << 20, 5));
  archive = await packArchive(dir, [{ path: join(dir, 'small.img'), name: 'small' }]);
});

test.after.always(async () => {
  for (const mp of ['root-mnt', 'user-mnt']) {
    if (await isMounted(join(dir, mp))) await run('fusermount3', ['-u', '-z', join(dir, mp)]);
  }
  if (wasMounted && !(await fusectlMounted())) await mustSh(`mount -t fusectl fusectl ${FUSECTL}`);
  if (!wasMounted) await unmountFusectl();
  await rm(dir, { recursive: true, force: true });
});

test.serial('a mount by root mounts a missing fusectl and lowers its connection\'s max_background to 6', async (t) => {
  await unmountFusectl();
  t.false(await fusectlMounted());
  const m = await startMount(archive, join(dir, 'root-mnt'));
  t.teardown(() => m.stop());
  t.true(await fusectlMounted(), `fusectl was not mounted: ${m.stderr()}`);
  t.is((await readFile(join(await connectionDir(m.mp), 'max_background'), 'utf8')).trim(), '6');
  t.notRegex(m.stderr(), /max_background/, 'no warning when tuning worked');
  t.is(await m.stop(), 0);
});

test.serial('a mount by a user who cannot mount fusectl warns once, naming what is lost and the fix', async (t) => {
  // /dev/fuse is root's alone on this machine, so the unprivileged side is the tuning step itself:
  // tuneFuseConnection run by nobody on a live mount, with fusectl unmounted again.
  const m = await startMount(archive, join(dir, 'user-mnt'));
  t.teardown(() => m.stop());
  await unmountFusectl();
  const tune = join(CLI, '..', '..', '..', 'fs', 'fuse', 'fuse-mount.js');
  const script = `import(${JSON.stringify(tune)}).then((m) => m.tuneFuseConnection(${JSON.stringify(m.mp)}, {}, (l) => console.log(l)))`;
  const r = await sh(`setpriv --reuid=65534 --regid=65534 --clear-groups ${process.execPath} --input-type=module -e ${JSON.stringify(script)}`, '/');
  t.is(r.code, 0, r.stderr);
  t.false(await fusectlMounted(), 'an unprivileged process does not (cannot) mount fusectl');
  const warnings = r.stdout.split('\n').filter((l) => /fusectl/.test(l));
  t.is(warnings.length, 1, r.stdout);
  t.regex(warnings[0], /only root can mount it/);
  t.regex(warnings[0], /max_background of 12.*worker pool churns/);
  t.true(warnings[0].includes(`mount -t fusectl fusectl ${FUSECTL}`), warnings[0]);
  t.is(await m.stop(), 0);
});
