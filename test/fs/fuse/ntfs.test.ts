// NTFS files through the mount, against the Sleuth Kit / ntfsprogs oracle of the NTFS fixtures:
// an NTFS image placed as partition 1 of an MBR disk (browsed as p1/) and packed bare as well
// (browsed as fs/). Every file's sha256, every size and mtime, ADS as name:stream, symlinks.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ntfsFixtures, type OracleEntry } from '../../fixtures/ntfs/fixtures.js';
import { mustSh, packArchive, sh, startMount, type RunningMount } from './helpers.js';

let dir: string;
let mount: RunningMount;
let entries: OracleEntry[];
let p1: string;

test.before(async () => {
  const fx = await ntfsFixtures();
  const c4k = fx.images.find((i) => i.name === 'c4k');
  if (!c4k) throw new Error('NTFS fixture c4k missing');
  entries = c4k.oracle.entries;
  dir = await mkdtemp(join(tmpdir(), 'diskarc-fuse-ntfs-'));
  const disk = join(dir, 'win.img');
  await mustSh(
    `
    set -e
    size=$(stat -c %s ${c4k.image})
    truncate -s $(( size + 2 * 1048576 )) win.img
    printf 'label: dos\\n1M,%sK,7\\n' $(( size / 1024 )) | sfdisk -q win.img
    dd if=${c4k.image} of=win.img bs=1M seek=1 conv=sparse,notrunc status=none
  `,
    dir,
  );
  const archive = await packArchive(dir, [
    { path: disk, name: 'win' },
    { path: c4k.image, name: 'bare-ntfs' },
  ]);
  mount = await startMount(archive, join(dir, 'mnt'));
  p1 = join(mount.mp, 'win', 'p1');
});

test.after.always(async () => {
  if (mount) await mount.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Found {
  type: string;
  size: number;
  mtimeMs: number;
}

async function listTree(root: string): Promise<Map<string, Found>> {
  const out = await mustSh(`cd ${JSON.stringify(root)} && find . -mindepth 1 -printf '%P\\t%y\\t%s\\t%T@\\0'`);
  const map = new Map<string, Found>();
  for (const rec of out.split('\0')) {
    if (!rec) continue;
    const [path, type, size, t] = rec.split('\t');
    map.set(path, { type, size: Number(size), mtimeMs: Math.round(Number(t) * 1000) });
  }
  return map;
}

test.serial('p1/ shows every oracle entry (and each ADS as name:stream) with its type, exact size and mtime', async (t) => {
  const found = await listTree(p1);
  const expected = new Map<string, { type: string; size?: number; mtime: string }>();
  for (const e of entries) {
    expected.set(e.path, {
      type: e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : 'f',
      size: e.type === 'file' ? e.size : undefined,
      mtime: e.mtime,
    });
    for (const s of e.streams) expected.set(`${e.path}:${s.name}`, { type: 'f', size: s.size, mtime: e.mtime });
  }
  t.deepEqual([...found.keys()].sort(), [...expected.keys()].sort());
  let checked = 0;
  for (const [path, want] of expected) {
    const got = found.get(path);
    if (!got) continue;
    t.is(got.type, want.type, path);
    if (want.size !== undefined) t.is(got.size, want.size, path);
    t.true(Math.abs(got.mtimeMs - Date.parse(want.mtime)) <= 1, `${path}: mtime ${new Date(got.mtimeMs).toISOString()} vs ${want.mtime}`);
    checked++;
  }
  t.true(checked > 3000);
});

test.serial('sha256sum of every file and alternate data stream under p1/ equals the oracle', async (t) => {
  const want = new Map<string, string>();
  for (const e of entries) {
    if (e.type === 'file' && e.sha256) want.set(e.path, e.sha256);
    for (const s of e.streams) want.set(`${e.path}:${s.name}`, s.sha256);
  }
  const list = join(dir, 'files.list');
  await writeFile(list, [...want.keys()].join('\0') + '\0');
  // Unreadable files make sha256sum exit non-zero; they show up below as mismatches by name.
  const out = (await sh(`cd ${JSON.stringify(p1)} && xargs -0 sha256sum -z < ${JSON.stringify(list)}`)).stdout;
  const got = new Map<string, string>();
  for (const rec of out.split('\0')) {
    if (!rec) continue;
    got.set(rec.slice(66), rec.slice(0, 64));
  }
  const mismatches = [...want].filter(([path, sha]) => got.get(path) !== sha).map(([path]) => path);
  t.deepEqual(mismatches, []);
});

test.serial('NTFS symlinks are symlinks; drive-absolute targets resolve inside the mounted volume', async (t) => {
  const links = entries.filter((e) => e.type === 'symlink');
  t.true(links.length >= 3);
  for (const l of links) {
    const r = await sh(`test -L ${JSON.stringify(join(p1, l.path))}`);
    t.is(r.code, 0, `${l.path} is a symlink`);
  }
  t.is((await mustSh(`readlink ${JSON.stringify(join(p1, 'links/relative-symlink'))}`)).trim(), 'original.txt');
  t.is((await mustSh(`readlink ${JSON.stringify(join(p1, 'links/absolute-symlink'))}`)).trim(), '../links/original.txt');
  const original = await readFile(join(p1, 'links/original.txt'));
  t.true((await readFile(join(p1, 'links/absolute-symlink'))).equals(original));
  t.true((await readFile(join(p1, 'links/relative-symlink'))).equals(original));
  const ls = await mustSh(`ls -l ${JSON.stringify(join(p1, 'links'))}`);
  t.regex(ls, /^l.* relative-symlink -> original\.txt$/m);
});

test.serial('a bare NTFS stream (no partition table) is browsed as fs/, identical to p1/', async (t) => {
  const bare = join(mount.mp, 'bare-ntfs');
  t.deepEqual((await mustSh(`ls -1 ${JSON.stringify(bare)}`)).trim().split('\n').sort(), ['disk.img', 'fs', 'info.json']);
  const a = await listTree(join(bare, 'fs'));
  const b = await listTree(p1);
  t.deepEqual([...a.entries()].sort(), [...b.entries()].sort());
  const r = await sh(`cmp ${JSON.stringify(join(mount.mp, 'win', 'p1.img'))} ${JSON.stringify(join(bare, 'disk.img'))}`);
  t.is(r.code, 0, r.stdout);
});
