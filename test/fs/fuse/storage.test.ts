// Sparseness and hard links through the mount, against the real peers: ntfs-3g mounting the same
// NTFS fixture (st_blocks of every file; one inode per MFT record, so its hard-link groups), `du`,
// `cp --sparse=auto` and `cp -a` of the mounted files, and the sparse image the archive was packed
// from (disk.img / pN.img st_blocks from the stream's stored extents).
import test from 'ava';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ntfsFixtures } from '../../fixtures/ntfs/fixtures.js';
import { CLI, isMounted, makeSparseImage, mustSh, packArchive, run, sh, startMount, type RunningMount } from './helpers.js';

const MiB = 1024 * 1024;

let dir: string;
let mount: RunningMount;
/** The NTFS files through our mount and through ntfs-3g. */
let ours: string;
let peer: string;
let sparseImage: string;
let archive: string;

test.before(async () => {
  const c4k = (await ntfsFixtures()).images.find((i) => i.name === 'c4k');
  if (!c4k) throw new Error('NTFS fixture c4k missing');
  dir = await mkdtemp(join(tmpdir(), 'diskarc-fuse-storage-'));
  // A sparse MBR disk: 2 MiB of data in a 64 MiB image, one partition holding part of it.
  sparseImage = await makeSparseImage(join(dir, 'sparse.img'), 64 * MiB, [8 * MiB, 40 * MiB], MiB, 11);
  await mustSh(`printf 'label: dos\\n32M,16M,83\\n' | sfdisk -q ${sparseImage}`);
  archive = await packArchive(dir, [
    { path: c4k.image, name: 'ntfs' },
    { path: sparseImage, name: 'sparse' },
  ]);
  mount = await startMount(archive, join(dir, 'mnt'));
  ours = join(mount.mp, 'ntfs', 'fs');
  peer = join(dir, 'ntfs-3g');
  await mkdir(peer);
  await mustSh(`ntfs-3g -o ro ${c4k.image} ${peer}`);
});

test.after.always(async () => {
  if (peer && (await isMounted(peer))) await run('fusermount3', ['-u', '-z', peer]);
  if (mount) await mount.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Stat {
  type: string;
  blocks: number;
  nlink: number;
  ino: number;
}

/** type, st_blocks, st_nlink and st_ino of every entry under `root`, by relative path (find -printf). */
async function statTree(root: string): Promise<Map<string, Stat>> {
  const out = await mustSh(`cd ${JSON.stringify(root)} && find . -mindepth 1 -printf '%P\\t%y\\t%b\\t%n\\t%i\\0'`);
  const map = new Map<string, Stat>();
  for (const rec of out.split('\0')) {
    if (!rec) continue;
    const [path, type, blocks, nlink, ino] = rec.split('\t');
    map.set(path, { type, blocks: Number(blocks), nlink: Number(nlink), ino: Number(ino) });
  }
  return map;
}

/** Paths grouped by inode: the hard-link sets (sorted, for comparison). */
function linkGroups(tree: Map<string, Stat>): string[][] {
  const byIno = new Map<number, string[]>();
  for (const [path, s] of tree) if (s.type === 'f') byIno.set(s.ino, [...(byIno.get(s.ino) ?? []), path]);
  return [...byIno.values()].map((g) => g.sort()).sort((a, b) => a[0].localeCompare(b[0]));
}

test.serial("st_blocks of every NTFS file equals ntfs-3g's: sparse runs and compressed clusters take nothing", async (t) => {
  const [mine, theirs] = await Promise.all([statTree(ours), statTree(peer)]);
  let sparse = 0;
  const mismatches: string[] = [];
  for (const [path, p] of theirs) {
    if (p.type !== 'f') continue;
    const o = mine.get(path);
    if (!o) {
      mismatches.push(`${path}: missing`);
      continue;
    }
    if (o.blocks !== p.blocks) mismatches.push(`${path}: ${o.blocks} blocks, ntfs-3g ${p.blocks}`);
    if (p.blocks * 512 < (await stat(join(peer, path))).size - 4096) sparse++;
  }
  t.deepEqual(mismatches, []);
  t.true(sparse >= 5, `only ${sparse} files with holes compared`);
  t.is(mine.get('sparse/holes.bin')!.blocks, theirs.get('sparse/holes.bin')!.blocks);
  t.is(mine.get('sparse/all-hole.bin')!.blocks, 0);
  // Directories' blocks are their index blocks, as in ntfs-3g; so du of the whole volume (hard
  // links counted once) agrees, but for the alternate data streams, which ntfs-3g does not list.
  for (const [path, p] of theirs) if (p.type === 'd') t.is(mine.get(path)?.blocks, p.blocks, path);
  const du = async (p: string, exclude = '') =>
    Number((await mustSh(`du -s --block-size=1 ${exclude} ${JSON.stringify(p)}`)).split('\t')[0]);
  const ads = [...mine.keys()]
    .filter((p) => !theirs.has(p))
    .map((p) => `--exclude=${JSON.stringify(p.slice(p.lastIndexOf('/') + 1))}`)
    .join(' ');
  // The volume's root directory itself shows no blocks: stat of pN/ must not open the volume.
  const peerRoot = (await stat(peer)).blocks * 512;
  t.is((await stat(ours)).blocks, 0);
  t.is(await du(ours, ads), (await du(peer)) - peerRoot);
});

test.serial('hard links share one inode and show their link count, as ntfs-3g groups them (DOS 8.3 aliases do not count)', async (t) => {
  const [mine, theirs] = await Promise.all([statTree(ours), statTree(peer)]);
  // ntfs-3g shows no alternate data streams: compare the paths both show.
  const groups = linkGroups(new Map([...mine].filter(([p]) => theirs.get(p)?.type === 'f')));
  t.deepEqual(groups, linkGroups(new Map([...theirs].filter(([p]) => mine.get(p)?.type === 'f'))));
  t.true(
    groups.some((g) => g.length === 3 && g.includes('links/original.txt') && g.includes('links/sub/hardlink-in-subdir.txt')),
    JSON.stringify(groups.filter((g) => g.length > 1)),
  );
  // st_nlink is the number of names a file has in the tree (what ntfs-3g lists), for every file —
  // ntfs-3g's own st_nlink is the record's raw count, which also counts a DOS 8.3 alias.
  const names = new Map<number, number>();
  for (const s of mine.values()) if (s.type === 'f') names.set(s.ino, (names.get(s.ino) ?? 0) + 1);
  const wrong = [...mine]
    .filter(([, s]) => s.type === 'f' && s.nlink !== names.get(s.ino))
    .map(([p, s]) => `${p}: nlink ${s.nlink}, ${names.get(s.ino)} names`);
  t.deepEqual(wrong, []);
  t.is(mine.get('links/original.txt')!.nlink, 3);
  t.is(mine.get('links/resident-original.txt')!.nlink, 2);
  t.is(mine.get('dosnames/Long File Name Number One.txt')!.nlink, 1);
  t.is(theirs.get('dosnames/Long File Name Number One.txt')!.nlink, 2, 'the fixture gives that file a DOS alias');
  // Inode numbers are unique otherwise: across files, ADS entries and directories.
  const inos = new Map<number, string>();
  for (const [p, s] of mine) {
    if (s.type === 'f' && s.nlink > 1) continue;
    t.false(inos.has(s.ino), `${p} and ${inos.get(s.ino)} share inode ${s.ino}`);
    inos.set(s.ino, p);
  }
});

test.serial('cp --sparse=auto and cp -a out of the mount keep holes and hard links (as ntfs-3g and diskarc extract do)', async (t) => {
  const out = join(dir, 'out');
  await mkdir(out);
  await mustSh(
    `cp --sparse=auto ${JSON.stringify(join(ours, 'sparse/holes.bin'))} ${out}/ours.bin && cp --sparse=auto ` +
      `${JSON.stringify(join(peer, 'sparse/holes.bin'))} ${out}/peer.bin`,
  );
  t.is((await run('cmp', [`${out}/ours.bin`, `${out}/peer.bin`])).code, 0);
  const written = async (p: string) => (await stat(p)).blocks * 512;
  t.log(
    `cp --sparse=auto of a ${(await stat(`${out}/ours.bin`)).size}-byte file writes ${await written(`${out}/ours.bin`)} bytes ` +
      `(from ntfs-3g: ${await written(`${out}/peer.bin`)})`,
  );
  t.true((await written(`${out}/ours.bin`)) <= (await written(`${out}/peer.bin`)) + 64 * 1024);

  await mustSh(`cp -a ${JSON.stringify(join(ours, 'links'))} ${out}/links`);
  const a = await stat(join(out, 'links/original.txt'));
  const b = await stat(join(out, 'links/sub/hardlink-in-subdir.txt'));
  t.is(a.ino, b.ino, 'cp -a recreated the hard link');
  t.is(a.nlink, 3);
  // The whole volume (ADS included: they are files in the mount): cp -a writes what diskarc
  // extract --streams writes — compressed files come out decompressed either way.
  await mustSh(`cp -a ${JSON.stringify(ours)} ${out}/all`);
  await mustSh(`${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} extract -a ${archive} -s ntfs / ${out}/extracted --streams`);
  const duOf = async (p: string) => Number((await mustSh(`du -s --block-size=1 ${p}`)).split('\t')[0]);
  const [cpBytes, extractBytes] = [await duOf(`${out}/all`), await duOf(`${out}/extracted`)];
  t.log(`cp -a of the volume wrote ${cpBytes} bytes, diskarc extract ${extractBytes}`);
  t.true(cpBytes <= extractBytes * 1.02, `cp -a wrote ${cpBytes} bytes, extract ${extractBytes}`);
});

test.serial('disk.img and pN.img report the blocks the archive stores; cp --sparse=auto keeps their holes', async (t) => {
  const img = join(mount.mp, 'sparse', 'disk.img');
  const part = join(mount.mp, 'sparse', 'p1.img');
  const size = (await stat(img)).size;
  t.is(size, 64 * MiB);
  // The packed image holds 2 MiB of data (plus the partition table sector) in 64 MiB.
  const blocks = (await stat(img)).blocks;
  t.true(blocks * 512 >= 2 * MiB && blocks * 512 <= 2 * MiB + 128 * 1024, `disk.img: ${blocks} blocks`);
  // p1 spans 32–48 MiB: the data at 40 MiB only.
  const pblocks = (await stat(part)).blocks;
  t.true(pblocks * 512 >= MiB && pblocks * 512 <= MiB + 64 * 1024, `p1.img: ${pblocks} blocks`);
  const r = await sh(`cp --sparse=auto ${img} ${dir}/copy.img && cmp ${img} ${dir}/copy.img && stat -c %b ${dir}/copy.img`);
  t.is(r.code, 0, r.stderr);
  t.true(Number(r.stdout) * 512 <= 2 * MiB + 128 * 1024, `the copy takes ${Number(r.stdout) * 512} bytes`);
});
