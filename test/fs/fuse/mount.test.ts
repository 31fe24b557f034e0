// `diskarc mount` end to end on real FUSE mounts: an archived disk with ext4 and FAT partitions,
// compared byte for byte with the originals and read by the filesystems' own tools.
import test from 'ava';
import { mkdtemp, readFile, rm, stat, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diskarc, isMounted, makeFixtureDisk, packArchive, run, sh, startMount, type FixtureDisk, type RunningMount } from './helpers.js';

const READER = fileURLToPath(new URL('./random-reader.js', import.meta.url));

let dir: string;
let fx: FixtureDisk;
let archive: string;
let mount: RunningMount;
let streamDir: string;
let packTime: Date;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-fuse-'));
  fx = await makeFixtureDisk(dir);
  // Two streams: one with a name that is not a safe path component, one with a plain name.
  archive = await packArchive(dir, [
    { path: fx.disk, name: 'pc/disk:0' },
    { path: fx.vfat, name: 'fat' },
  ]);
  const list = JSON.parse((await diskarc('list', '-a', archive, '--json')).stdout);
  const streams = Array.isArray(list) ? list : list.streams;
  packTime = new Date(streams.find((s: { name: string }) => s.name === 'pc/disk:0').packTime);
  mount = await startMount(archive, join(dir, 'mnt'));
  streamDir = join(mount.mp, 'pc%2Fdisk:0');
});

test.after.always(async () => {
  if (mount) await mount.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test.serial('the tree lists every stream under a safe name, with disk.img, pN.img and info.json', async (t) => {
  const root = await sh(`ls -1 ${JSON.stringify(mount.mp)}`);
  t.deepEqual(root.stdout.trim().split('\n').sort(), ['fat', 'pc%2Fdisk:0']);
  const entries = (await sh(`ls -1 ${JSON.stringify(streamDir)}`)).stdout.trim().split('\n');
  t.deepEqual(entries.sort(), ['disk.img', 'info.json', 'p1.img', 'p2.img']);
  // The bare FAT stream has no partition table: just the image and its metadata.
  t.deepEqual((await sh(`ls -1 ${JSON.stringify(join(mount.mp, 'fat'))}`)).stdout.trim().split('\n').sort(), ['disk.img', 'info.json']);
  const info = JSON.parse(await readFile(join(streamDir, 'info.json'), 'utf8'));
  t.is(info.stream.name, 'pc/disk:0');
  t.is(info.partitionTable.scheme, 'mbr');
  t.deepEqual(
    info.partitionTable.partitions.map((p: { start: number; size: number; filesystem: string }) => [p.start, p.size, p.filesystem]),
    [
      [1 << 20, 24 << 20, 'ext4'],
      [25 << 20, 24 << 20, 'vfat'],
    ],
  );
});

test.serial('ls -l shows exact sizes and the pack time as mtime', async (t) => {
  const out = (await sh(`ls -l --time-style=+%s ${JSON.stringify(streamDir)}`)).stdout;
  const sizes = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => {
        const f = l.split(/\s+/);
        return [f[6], { size: Number(f[4]), mtime: Number(f[5]), mode: f[0] }];
      }),
  );
  t.is(sizes['disk.img'].size, (await stat(fx.disk)).size);
  t.is(sizes['p1.img'].size, (await stat(fx.ext4)).size);
  t.is(sizes['p2.img'].size, (await stat(fx.vfat)).size);
  t.is(sizes['info.json'].size, (await readFile(join(streamDir, 'info.json'))).length);
  for (const name of ['disk.img', 'p1.img', 'p2.img', 'info.json']) {
    t.is(sizes[name].mtime, Math.floor(packTime.getTime() / 1000), name);
    t.is(sizes[name].mode, '-r--r--r--', name);
  }
});

test.serial('disk.img and each pN.img are byte-identical to the originals (cmp)', async (t) => {
  const r = await Promise.all([
    run('cmp', [join(streamDir, 'disk.img'), fx.disk]),
    run('cmp', [join(streamDir, 'p1.img'), fx.ext4]),
    run('cmp', [join(streamDir, 'p2.img'), fx.vfat]),
    run('cmp', [join(mount.mp, 'fat', 'disk.img'), fx.vfat]),
  ]);
  for (const x of r) t.is(x.code, 0, x.stdout + x.stderr);
});

test.serial('the mounted ext4 partition image is a valid filesystem to e2fsck and debugfs', async (t) => {
  const p1 = join(streamDir, 'p1.img');
  const fsck = await sh(`e2fsck -fn ${JSON.stringify(p1)}`);
  t.is(fsck.code, 0, fsck.stdout + fsck.stderr);
  const ls = await sh(`debugfs -R 'ls -l /' ${JSON.stringify(p1)}`);
  t.regex(ls.stdout, /hello\.txt/);
  t.regex(ls.stdout, /\s300000\s.*random\.bin/);
  const out = join(dir, 'dumped.bin');
  await sh(`debugfs -R 'dump /random.bin ${out}' ${JSON.stringify(p1)}`);
  t.true((await readFile(out)).equals(fx.files['random.bin']));
});

test.serial('the mounted FAT partition image is a valid filesystem to fsck.vfat and mtools', async (t) => {
  const p2 = join(streamDir, 'p2.img');
  const fsck = await sh(`fsck.vfat -n ${JSON.stringify(p2)}`);
  t.is(fsck.code, 0, fsck.stdout + fsck.stderr);
  const dirList = await sh(`mdir -i ${JSON.stringify(p2)} ::/`);
  t.is(dirList.code, 0, dirList.stderr);
  t.regex(dirList.stdout, /random\s+bin\s+300000/i);
  const typed = await sh(`mtype -i ${JSON.stringify(p2)} ::/hello.txt`);
  t.is(typed.stdout, fx.files['hello.txt'].toString());
});

test.serial('every write fails with EROFS', async (t) => {
  const q = (p: string) => JSON.stringify(p);
  const attempts = [
    `touch ${q(join(streamDir, 'new'))}`,
    `echo x > ${q(join(streamDir, 'disk.img'))}`,
    `echo x >> ${q(join(streamDir, 'p1.img'))}`,
    `mkdir ${q(join(streamDir, 'd'))}`,
    `rm -f ${q(join(streamDir, 'info.json'))}`,
    `mv ${q(join(streamDir, 'p1.img'))} ${q(join(streamDir, 'p9.img'))}`,
    `chmod 777 ${q(join(streamDir, 'disk.img'))}`,
    `truncate -s 0 ${q(join(streamDir, 'disk.img'))}`,
    `touch -d 2001-01-01 ${q(join(streamDir, 'disk.img'))}`,
    `setfattr -n user.x -v 1 ${q(join(streamDir, 'disk.img'))}`,
    `ln -s x ${q(join(streamDir, 'link'))}`,
  ];
  for (const cmd of attempts) {
    const r = await sh(cmd);
    t.not(r.code, 0, cmd);
    t.regex(r.stderr, /Read-only file system/, cmd);
  }
  // Nothing changed.
  t.is((await run('cmp', [join(streamDir, 'disk.img'), fx.disk])).code, 0);
});

test.serial('8 parallel readers at random offsets all get the original bytes', async (t) => {
  const readers = Array.from({ length: 8 }, (_, i) =>
    run(process.execPath, [READER, join(streamDir, 'disk.img'), fx.disk, '150', String(1000 + i)]),
  );
  const results = await Promise.all(readers);
  for (const r of results) {
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim(), '150 reads ok');
  }
});

test.serial('a second mount on a mounted or non-empty directory is refused with a clear message', async (t) => {
  const again = await diskarc('mount', '-a', archive, mount.mp, '--foreground');
  t.is(again.code, 2);
  t.regex(again.stderr, /already a mount point \(fuse\.diskarc/);
  const full = join(dir, 'full');
  await mkdir(full);
  await writeFile(join(full, 'keep.txt'), 'mine');
  const r = await diskarc('mount', '-a', archive, full);
  t.is(r.code, 2);
  t.regex(r.stderr, /is not empty/);
  t.is(await readFile(join(full, 'keep.txt'), 'utf8'), 'mine');
  t.false(await isMounted(full));
  const missing = await diskarc('mount', '-a', join(dir, 'no-archive'), join(dir, 'mnt-x'));
  t.not(missing.code, 0);
});
