// The export catalog's naming rules over real file-backed sources: names and ids, duplicate
// names (newest wins), the default export, partitions as NAME/pN, sharing and closing sources.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileBlockSource } from '../../src/block/file-source.js';
import type { BlockSource } from '../../src/block/source.js';
import { ExportCatalog, type ServedDisk } from '../../server/catalog.js';
import { tempDir } from '../protocols/nbd/helpers.js';

async function disks(dir: string, specs: Array<[string, string, number]>): Promise<{ disks: ServedDisk[]; opened: BlockSource[] }> {
  const opened: BlockSource[] = [];
  const out: ServedDisk[] = [];
  for (const [id, name, size] of specs) {
    const path = join(dir, `${id}.img`);
    await writeFile(path, Buffer.alloc(size, id.charCodeAt(0)));
    out.push({
      id,
      name,
      size,
      open: async () => {
        const s = await FileBlockSource.open(path);
        opened.push(s);
        return s;
      },
    });
  }
  return { disks: out, opened };
}

test('streams answer to their id and their name; a shared name belongs to the newest', async (t) => {
  const tmp = await tempDir('catalog');
  const { disks: d, opened } = await disks(tmp.dir, [
    ['aaaa', 'web', 1000],
    ['bbbb', 'db', 2000],
    ['cccc', 'web', 3000],
  ]);
  const cat = new ExportCatalog(d);
  t.deepEqual(
    (await cat.list()).map((e) => [e.name, e.size]),
    [
      ['aaaa', 1000],
      ['db', 2000],
      ['bbbb', 2000],
      ['web', 3000],
      ['cccc', 3000],
    ],
  );
  t.is((await cat.open('web'))!.source.size, 3000);
  t.is((await cat.open('aaaa'))!.source.size, 1000);
  t.is((await cat.open('bbbb'))!.name, 'bbbb');
  t.is(await cat.open(''), undefined, 'no default export among several disks');
  t.is(await cat.open('nope'), undefined);
  // One source per disk, shared by every open.
  await cat.open('db');
  await cat.open('bbbb');
  t.is(opened.length, 3);
  await cat.close();
  t.is(await cat.open('db'), undefined);
  await tmp.cleanup();
});

test('a single disk is the default export; partitions are NAME/pN and ID/pN', async (t) => {
  const tmp = await tempDir('catalog1');
  const { disks: d } = await disks(tmp.dir, [['dddd', 'disk', 8192]]);
  const cat = new ExportCatalog(d, {
    partitions: async (src) => [
      {
        index: 1,
        size: 4096,
        source: { size: 4096, read: (o, l) => src.read(o + 1024, l), extents: async () => [], close: async () => {} },
      },
    ],
  });
  t.is((await cat.open(''))!.name, 'disk');
  t.deepEqual(
    (await cat.list()).map((e) => e.name),
    ['disk', 'dddd', 'disk/p1'],
  );
  const p = (await cat.open('dddd/p1'))!;
  t.is(p.name, 'disk/p1');
  t.is(p.source.size, 4096);
  t.is(await cat.open('disk/p2'), undefined);
  t.is(await cat.open('disk/p0'), undefined);
  await cat.close();
  await tmp.cleanup();
});

test(
  'a refreshing catalog follows its disk list: new disks join, a name moves to the newest, removed disks go (their sources close ' +
    'with the catalog)',
  async (t) => {
    const tmp = await tempDir('catalog2');
    const { disks: d, opened } = await disks(tmp.dir, [
      ['aaaa', 'web', 1000],
      ['bbbb', 'web', 2000],
    ]);
    let current = [d[0]!];
    let failing = false;
    const errors: unknown[] = [];
    const changes: string[] = [];
    const cat = new ExportCatalog(current, {
      refreshMs: 0,
      refresh: async () => {
        if (failing) throw new Error('streams/ unreadable');
        return current;
      },
      onChange: (added, removed) => changes.push(`+${added.map((x) => x.id).join(',')} -${removed.map((x) => x.id).join(',')}`),
      onRefreshError: (e) => errors.push(e),
    });
    t.is((await cat.open(''))!.source.size, 1000, 'the only disk is the default export');
    current = [d[0]!, d[1]!];
    t.deepEqual(
      (await cat.list()).map((e) => e.name),
      ['aaaa', 'web', 'bbbb'],
    );
    t.is((await cat.open('web'))!.source.size, 2000, 'the name belongs to the newest disk');
    t.is(await cat.open(''), undefined, 'no default export among several disks');
    // A failed re-read keeps the last listing.
    failing = true;
    t.deepEqual(
      (await cat.list()).map((e) => e.name),
      ['aaaa', 'web', 'bbbb'],
    );
    t.is(errors.length, 1);
    failing = false;
    current = [d[1]!];
    t.deepEqual(
      (await cat.list()).map((e) => e.name),
      ['web', 'bbbb'],
    );
    t.is(await cat.open('aaaa'), undefined);
    t.deepEqual(changes, ['+bbbb -', '+ -aaaa']);
    t.is(opened.length, 2);
    await cat.close();
    // Both sources closed: the removed one too (a closed FileBlockSource refuses reads).
    for (const s of opened) await t.throwsAsync(s.read(0, 1));
    await tmp.cleanup();
  },
);
