// The dedup index on the memory backend, over a real slab store: chunks are found by their
// SHA-256 after a catch-up from the hash slabs, the saved table loads back (read straight into
// its arrays) and finds the same, a table ahead of the store or of the wrong size is ignored.
import test from 'ava';
import { createHash } from 'node:crypto';
import { DedupIndex } from '../../src/archive/dedup-index.js';
import { hashRecord } from '../../src/archive/layout.js';
import { SlabStore, SlabStoreWriter } from '../../src/archive/slab-store.js';
import { DEDUP_INDEX_KEY } from '../../src/storage/keys.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { seededBytes } from './harness.js';

const CHUNKS = 50;
const sha = (b: Buffer) => createHash('sha256').update(b).digest();
const chunk = (slab: number, c: number) => seededBytes(300 + c, slab * 1000 + c + 1);

/** A store of `slabs` slabs of CHUNKS chunks each, with their hash lists. */
async function storeWith(storage: MemoryStorage, slabs: number): Promise<SlabStore> {
  const store = await SlabStore.open(storage);
  const w = await SlabStoreWriter.open(store, 1 << 30);
  for (let s = w.nextSlabId; s < slabs; s++) {
    const list = Buffer.alloc(CHUNKS * hashRecord.size);
    const parts: Buffer[] = [];
    let offset = 0;
    for (let c = 0; c < CHUNKS; c++) {
      const data = chunk(s, c);
      sha(data).copy(list, c * hashRecord.size);
      hashRecord.encode({ offset, length: data.length }, list, c * hashRecord.size);
      parts.push(data);
      offset += data.length;
    }
    const payload = Buffer.concat(parts);
    await w.append(0, payload, payload.length, list);
  }
  await w.close();
  await store.refresh();
  return store;
}

async function assertFinds(t: { deepEqual(a: unknown, b: unknown, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, index: DedupIndex, slabs: number): Promise<void> {
  for (let s = 0; s < slabs; s++) {
    let offset = 0;
    for (let c = 0; c < CHUNKS; c++) {
      const length = chunk(s, c).length;
      t.deepEqual(await index.lookup(sha(chunk(s, c))), { slab: s, chunk: c, offset, length }, `slab ${s} chunk ${c}`);
      offset += length;
    }
  }
  t.is(await index.lookup(sha(Buffer.from('never stored'))), null);
}

test('catch-up finds every chunk; the saved table loads back and finds the same', async (t) => {
  const storage = new MemoryStorage();
  const store = await storeWith(storage, 6);
  const built = new DedupIndex(store, 16);
  t.false(await built.load(storage), 'no snapshot yet');
  await built.catchUp();
  t.is(built.size, 6 * CHUNKS);
  await assertFinds(t, built, 6);
  await built.save(storage);
  t.true((await storage.stat(DEDUP_INDEX_KEY)).sealed, 'put whole');

  const loaded = new DedupIndex(store);
  t.true(await loaded.load(storage));
  t.is(loaded.size, 6 * CHUNKS);
  t.is(loaded.slabsCovered, 6);
  await assertFinds(t, loaded, 6);

  // More slabs later: the snapshot covers the first six, catch-up adds the rest; saving replaces it.
  const grown = await storeWith(storage, 9);
  const next = new DedupIndex(grown);
  t.true(await next.load(storage));
  await next.catchUp();
  await assertFinds(t, next, 9);
  await next.save(storage);
  t.is((await new DedupIndex(grown).load(storage)) && (await storage.readAll(DEDUP_INDEX_KEY)).readUInt32LE(8), 9, 'replaced by the newer table');
});

test('a snapshot ahead of the store, cut short, or not a table is ignored (rebuilt), never trusted', async (t) => {
  const storage = new MemoryStorage();
  const store = await storeWith(storage, 3);
  const index = new DedupIndex(store);
  await index.catchUp();
  await index.save(storage);
  const good = await storage.readAll(DEDUP_INDEX_KEY);

  const ahead = Buffer.from(good);
  ahead.writeUInt32LE(4, 8); // covers a slab the store does not have (it was cut)
  for (const bad of [ahead, good.subarray(0, good.length - 1), Buffer.from('not a dedup index at all, just bytes')]) {
    await storage.put(DEDUP_INDEX_KEY, bad, { replace: true });
    const fresh = new DedupIndex(store);
    t.false(await fresh.load(storage));
    await fresh.catchUp();
    await assertFinds(t, fresh, 3);
  }
});
