// On a fresh machine fusectl is not mounted on /sys/fs/fuse/connections, and without it a mount
// cannot lower its connection's max_background (libfuse's pool then churns). A mount run as root
// mounts fusectl itself and tunes the connection; a process that cannot says what it loses.
// Each case runs in a private mount namespace (unshare -m) whose fusectl is unmounted first, so
// the machine's own state is untouched — other mounts keep theirs — and restored by construction.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, packArchive, seededBytes, sh } from './helpers.js';

const FUSECTL = '/sys/fs/fuse/connections';

let dir: string;
let archive: string;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-fusectl-'));
  await writeFile(join(dir, 'small.img'), seededBytes(1 << 20, 5));
  archive = await packArchive(dir, [{ path: join(dir, 'small.img'), name: 'small' }]);
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Runs `body` in a new mount namespace after unmounting its fusectl, with a diskarc mount of the
 * test archive started on $MP (its pid in $PID, its stderr in $DIR/err) once `$FUSECTL_STATE`
 * records whether fusectl was gone. The mount is stopped (SIGTERM) at the end.
 */
function inNamespace(name: string, body: string) {
  const mp = join(dir, name);
  const script = `
    set -u
    while grep -q " ${FUSECTL} fusectl " /proc/self/mounts; do umount ${FUSECTL} || exit 90; done
    echo "fusectl-before: $(grep -c " ${FUSECTL} fusectl " /proc/self/mounts)"
    mkdir -p ${mp}
    ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} mount -a ${archive} ${mp} --foreground \
      > ${dir}/${name}.out 2> ${dir}/${name}.err &
    PID=$!
    for i in $(seq 400); do grep -q "mounted" ${dir}/${name}.out && break; kill -0 $PID 2>/dev/null || break; sleep 0.05; done
    grep -q "mounted" ${dir}/${name}.out || { echo "not mounted: $(cat ${dir}/${name}.err)"; kill -9 $PID; exit 91; }
    conn=${FUSECTL}/$(mountpoint -d ${mp} | awk -F: '{ print $1 * 1048576 + $2 }')
    ${body}
    kill -TERM $PID; wait $PID; echo "exit: $?"
    echo "stderr: $(tr '\\n' '|' < ${dir}/${name}.err)"`;
  return sh(`unshare --mount --propagation private bash -c ${shellWord(script)}`);
}

function shellWord(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function field(out: string, key: string): string | undefined {
  return out
    .split('\n')
    .find((l) => l.startsWith(key + ': '))
    ?.slice(key.length + 2);
}

test("a mount by root mounts a missing fusectl and lowers its connection's max_background to 6", async (t) => {
  const r = await inNamespace(
    'root-mnt',
    `
    echo "fusectl-after: $(grep -c " ${FUSECTL} fusectl " /proc/self/mounts)"
    echo "max_background: $(cat $conn/max_background)"`,
  );
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is(field(r.stdout, 'fusectl-before'), '0', 'fusectl was unmounted first');
  t.is(field(r.stdout, 'fusectl-after'), '1', r.stdout);
  t.is(field(r.stdout, 'max_background'), '6', r.stdout);
  t.is(field(r.stdout, 'exit'), '0');
  t.notRegex(field(r.stdout, 'stderr') ?? '', /max_background|fusectl/, 'no warning when tuning worked');
});

test('a process that cannot mount fusectl warns once, naming what is lost and the fix', async (t) => {
  // /dev/fuse is root's alone on this machine, so the unprivileged side is the tuning step itself:
  // tuneFuseConnection run by nobody on the live mount, with fusectl unmounted again.
  const tune = join(CLI, '..', '..', '..', 'fs', 'fuse', 'fuse-mount.js');
  const js = `import(${JSON.stringify(tune)}).then((m) => m.tuneFuseConnection(process.argv[1], {}, (l) => console.log("log: " + l)))`;
  const r = await inNamespace(
    'user-mnt',
    `
    umount ${FUSECTL}
    (cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
      ${JSON.stringify(process.execPath)} --input-type=module -e ${shellWord(js)} ${join(dir, 'user-mnt')})
    echo "fusectl-after: $(grep -c " ${FUSECTL} fusectl " /proc/self/mounts)"`,
  );
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is(field(r.stdout, 'fusectl-after'), '0', 'an unprivileged process does not (cannot) mount fusectl');
  const warnings = r.stdout.split('\n').filter((l) => l.startsWith('log: ') && /fusectl/.test(l));
  t.is(warnings.length, 1, r.stdout);
  t.regex(warnings[0], /only root can mount it/);
  t.regex(warnings[0], /max_background of 12.*worker pool churns/);
  t.true(warnings[0].includes(`mount -t fusectl fusectl ${FUSECTL}`), warnings[0]);
});
