// The virtual tree over raw images (the same tree FUSE and WebDAV present), checked against the
// images themselves and sfdisk; laziness is observed by counting reads on the real file source.
import test from 'ava';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSource } from '../../../src/block/source.js';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { StreamTree, type StreamCatalog } from '../../../fs/tree/index.js';
import { imageCatalog } from '../../../fs/tree/catalog.js';
import { makeFixtureDisk, makeSparseImage, mustSh, type FixtureDisk } from '../fuse/helpers.js';

let dir: string;
let fx: FixtureDisk;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-tree-'));
  fx = await makeFixtureDisk(dir);
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

/** The image catalog, counting bytes read from each opened stream. */
function countingCatalog(paths: string[]): { catalog: StreamCatalog; reads: () => number; opens: () => number } {
  const inner = imageCatalog(paths);
  let reads = 0;
  let opens = 0;
  return {
    reads: () => reads,
    opens: () => opens,
    catalog: {
      ...inner,
      async open(id) {
        opens++;
        const src = await FileBlockSource.open(paths[Number(id)]);
        const counted: BlockSource = {
          size: src.size,
          read: (o, l) => {
            reads += l;
            return src.read(o, l);
          },
          extents: (o, l) => src.extents(o, l),
          close: () => src.close(),
        };
        return counted;
      },
    },
  };
}

test('listing the root opens no stream; touching a stream directory reads only its partition table', async (t) => {
  const c = countingCatalog([fx.disk, fx.disk]);
  const tree = new StreamTree(c.catalog);
  t.deepEqual(
    (await tree.readdir('/')).map((e) => e.name),
    ['disk.img', 'disk~2.img'],
  );
  const node = await tree.lookup('/disk.img');
  t.is(node.type, 'directory');
  t.is(c.opens(), 0);
  const entries = await tree.readdir('/disk.img');
  t.deepEqual(entries.map((e) => e.name).sort(), ['disk.img', 'info.json', 'p1.img', 'p2.img']);
  t.is(c.opens(), 1);
  // Partition table and superblock probes only: far less than the disk.
  t.true(c.reads() < 1024 * 1024, `read ${c.reads()} bytes`);
  await tree.close();
});

test('sizes and bytes of disk.img and pN.img match the images; paths below files are not directories', async (t) => {
  const tree = new StreamTree(imageCatalog([fx.disk]));
  const diskSize = (await stat(fx.disk)).size;
  t.is((await tree.lookup('/disk.img/disk.img')).size, diskSize);
  t.is((await tree.lookup('/disk.img/p1.img')).size, (await stat(fx.ext4)).size);
  const p2 = await tree.open('/disk.img/p2.img');
  t.true((await p2.read(0, p2.size)).equals(await readFile(fx.vfat)));
  await p2.close();
  // Closing one open file leaves the shared stream usable by the next.
  const d1 = await tree.open('/disk.img/disk.img');
  await d1.close();
  const d2 = await tree.open('/disk.img/disk.img');
  t.true((await d2.read(diskSize - 4096, 4096)).equals((await readFile(fx.disk)).subarray(diskSize - 4096)));
  await d2.close();
  await t.throwsAsync(tree.lookup('/disk.img/p1.img/x'), { code: 'ENOTDIR' });
  await t.throwsAsync(tree.lookup('/disk.img/p7.img'), { code: 'ENOTFOUND' });
  await t.throwsAsync(tree.lookup('/nope'), { code: 'ENOTFOUND' });
  await t.throwsAsync(tree.open('/disk.img'), { code: 'EISDIR' });
  await tree.close();
});

test('a single-stream tree shows the stream directory as its root', async (t) => {
  const tree = new StreamTree(imageCatalog([fx.vfat]), { singleStream: true });
  t.deepEqual((await tree.readdir('/')).map((e) => e.name).sort(), ['disk.img', 'info.json']);
  const info = JSON.parse((await (await tree.open('/info.json')).read(0, (await tree.lookup('/info.json')).size)).toString());
  t.is(info.partitionTable, null);
  t.is(info.filesystem, 'vfat');
  await tree.close();
});

test('allocated bytes: disk.img and pN.img count the data extents (holes take none), or a bound for large partitions', async (t) => {
  const MiB = 1024 * 1024;
  const image = await makeSparseImage(join(dir, 'sparse.img'), 64 * MiB, [8 * MiB, 40 * MiB], MiB, 21);
  await mustSh(`printf 'label: dos\\n32M,16M,83\\n' | sfdisk -q ${image}`);
  const tree = new StreamTree(imageCatalog([image]));
  // The filesystem holding the image is the oracle: its allocated blocks.
  t.is((await tree.lookup('/sparse.img/disk.img')).allocated, (await stat(image)).blocks * 512);
  t.is((await tree.lookup('/sparse.img/p1.img')).allocated, MiB);
  t.is((await tree.lookup('/sparse.img/info.json')).allocated, (await tree.lookup('/sparse.img/info.json')).size);
  t.is((await tree.lookup('/sparse.img')).allocated, 0);
  await tree.close();
  // A catalog that knows the stream's data bytes: disk.img uses them; a partition above the
  // exact-walk limit is bounded by them (the walk of a huge map would stall a listing).
  const inner = imageCatalog([image]);
  const known: StreamCatalog = { ...inner, list: async () => (await inner.list()).map((s) => ({ ...s, dataBytes: 3 * MiB })) };
  const bounded = new StreamTree(known, { exactAllocationBytes: 8 * MiB });
  t.is((await bounded.lookup('/sparse.img/disk.img')).allocated, 3 * MiB);
  t.is((await bounded.lookup('/sparse.img/p1.img')).allocated, 3 * MiB);
  await bounded.close();
  const exact = new StreamTree(known);
  t.is((await exact.lookup('/sparse.img/p1.img')).allocated, MiB);
  await exact.close();
});
