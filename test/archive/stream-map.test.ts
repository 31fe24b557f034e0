// Stream maps on the memory backend: what MapWriter writes, MapReader finds again for any range
// (fills of one byte and holes merged, pages crossed), in place and as an object store, where the
// map exists only once sealed; a cut index or map is ECORRUPT, never a wrong extent.
import test from 'ava';
import { ExtentType } from '../../src/archive/layout.js';
import { MapReader, MapWriter, PAGE_ENTRIES, type MapExtent } from '../../src/archive/stream-map.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { streamKey } from '../../src/storage/keys.js';

const ID = '00112233445566ff';

/** A deterministic map of `count` extents: data runs, fills and holes, as pack would add them. */
function extents(count: number, seed: number): MapExtent[] {
  const out: MapExtent[] = [];
  let x = seed;
  let offset = 0;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const type = [ExtentType.Data, ExtentType.Data, ExtentType.Fill, ExtentType.Unmapped][x % 4]!;
    const length = 1 + ((x >>> 8) % 20000);
    out.push({ offset, length, type, fillByte: type === ExtentType.Fill ? (x >>> 4) % 2 : 0, slab: type === ExtentType.Data ? i >> 3 : 0, slabOffset: type === ExtentType.Data ? (x >>> 12) % 65536 : 0, chunk: type === ExtentType.Data ? i % 8 : 0 });
    offset += length;
  }
  return out;
}

/** What a reader must see: neighbouring holes, and fills of one byte, merged. */
function merged(list: MapExtent[]): MapExtent[] {
  const out: MapExtent[] = [];
  for (const e of list) {
    const l = out[out.length - 1];
    if (l && e.type !== ExtentType.Data && l.type === e.type && l.fillByte === e.fillByte) l.length += e.length;
    else out.push({ ...e });
  }
  return out;
}

async function written(storage: MemoryStorage, list: MapExtent[]): Promise<number> {
  const w = await MapWriter.create(storage, ID);
  for (const e of list) await w.add({ ...e });
  await w.finish();
  return w.end;
}

async function collect(r: MapReader, offset: number, length: number): Promise<MapExtent[]> {
  const got: MapExtent[] = [];
  await r.forEach(offset, length, (e) => void got.push(e));
  return got;
}

for (const objectStore of [false, true]) {
  test(`${objectStore ? 'object store' : 'in place'}: every range reads back the extents written, across pages`, async (t) => {
    const storage = new MemoryStorage({ objectStore });
    const list = extents(PAGE_ENTRIES * 2 + 100, 7);
    const expected = merged(list);
    const w = await MapWriter.create(storage, ID);
    for (const e of list) await w.add({ ...e });
    if (objectStore) t.deepEqual(await storage.list('streams/'), [], 'nothing exists before the seal');
    await w.finish();
    const size = w.end;
    t.deepEqual((await storage.list('streams/')).map((k) => [k.key, k.sealed]), [[streamKey(ID, 'map'), true], [streamKey(ID, 'map.index'), true]]);

    const r = await MapReader.open(storage, ID, size);
    t.true(r.pageCount >= 2, `${r.pageCount} pages`);
    t.deepEqual(await collect(r, 0, size), expected);
    let x = 3;
    for (let i = 0; i < 200; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const offset = x % size;
      const length = 1 + ((x >>> 3) % 300000);
      const want = expected.filter((e) => e.offset + e.length > offset && e.offset < offset + length);
      t.deepEqual(await collect(r, offset, length), want, `range ${offset}+${length}`);
    }
    await r.close();
  });
}

test('a map cut short, or its index, is ECORRUPT naming the file; a map shorter than its stream too', async (t) => {
  const list = extents(PAGE_ENTRIES + 10, 11);
  const cutKey = async (key: string, by: number) => {
    const storage = new MemoryStorage();
    const size = await written(storage, list);
    const bytes = await storage.readAll(key);
    await storage.remove(key);
    await storage.put(key, bytes.subarray(0, bytes.length - by));
    return { storage, size };
  };
  {
    const { storage, size } = await cutKey(streamKey(ID, 'map.index'), 3);
    await t.throwsAsync(MapReader.open(storage, ID, size), { code: 'ECORRUPT', message: /map\.index is truncated/ });
  }
  {
    const { storage, size } = await cutKey(streamKey(ID, 'map'), 10);
    const r = await MapReader.open(storage, ID, size);
    await t.throwsAsync(collect(r, size - 1, 1), { code: 'ECORRUPT', message: /memory:streams\/00112233445566ff\/map: map page 1 at offset \d+ (is truncated|has a damaged)/ });
    t.is((await collect(r, 0, 1)).length, 1, 'the intact page still reads');
  }
  {
    const storage = new MemoryStorage();
    const size = await written(storage, list);
    const r = await MapReader.open(storage, ID, size + 5);
    await t.throwsAsync(collect(r, 0, size + 5), { code: 'ECORRUPT', message: /truncated map/ });
  }
  await t.throwsAsync(MapReader.open(new MemoryStorage(), ID, 1), { code: 'ECORRUPT', message: /cannot open stream map memory:streams\/00112233445566ff\/map: it is missing/ });
});
