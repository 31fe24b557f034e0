// The slab store on the memory backend: slabs appended by SlabStoreWriter read back by id through
// file roll-over (full pairs sealed), a reader sees a writer's synced slabs on refresh, a rollback
// cuts exactly what the writer appended, a crash loses only what was not synced, and an object
// store's writer seals its pair at finish and the next one starts a new pair.
import test from 'ava';
import { SlabLoader } from '../../src/archive/slab-loader.js';
import { SlabStore, SlabStoreWriter } from '../../src/archive/slab-store.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { seededBytes } from './harness.js';

const fresh = (n: number) => Buffer.allocUnsafeSlow(n);
const slab = (i: number) => seededBytes(20000 + i * 37, i + 1);
const hashes = (i: number) => seededBytes(40 * (1 + (i % 5)), 1000 + i);

async function appendSlabs(w: SlabStoreWriter, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) await w.append(0, slab(i), slab(i).length, hashes(i));
}

async function assertSlabs(t: { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, store: SlabStore, count: number): Promise<void> {
  const loader = new SlabLoader(store);
  t.is(store.totalSlabs, count);
  for (let i = 0; i < count; i++) {
    t.true((await loader.load(i, fresh)).equals(slab(i)), `data slab ${i}`);
    t.true((await store.readHashes(i)).equals(hashes(i)), `hash list ${i}`);
  }
}

test('slabs read back by id across rolled-over files; full pairs are sealed, the newest is not', async (t) => {
  const storage = new MemoryStorage();
  const store = await SlabStore.open(storage, 'mem');
  const w = await SlabStoreWriter.open(store, 100000);
  await appendSlabs(w, 0, 12);
  await w.close();
  await store.refresh();
  t.deepEqual(store.fileNumbers, [0, 1, 2]);
  await assertSlabs(t, store, 12);
  const sealed = Object.fromEntries((await storage.list('data/')).map((k) => [k.key, k.sealed]));
  t.deepEqual(sealed, { 'data/000000.slab': true, 'data/000000.slab.offsets': true, 'data/000001.slab': true, 'data/000001.slab.offsets': true, 'data/000002.slab': false, 'data/000002.slab.offsets': false });

  // A second writer continues the newest pair, ids follow on.
  const again = await SlabStoreWriter.open(store, 100000);
  t.is(again.nextSlabId, 12);
  await appendSlabs(again, 12, 2);
  await again.close();
  await store.refresh();
  await assertSlabs(t, store, 14);
  await store.close();
});

test('a reader sees synced slabs on refresh; a rollback cuts back to where the writer began', async (t) => {
  const storage = new MemoryStorage();
  const w0 = await SlabStoreWriter.open(await SlabStore.open(storage), 1 << 30);
  await appendSlabs(w0, 0, 3);
  await w0.close();
  const reader = await SlabStore.open(storage);
  t.is(reader.totalSlabs, 3);

  const w = await SlabStoreWriter.open(await SlabStore.open(storage), 1 << 30);
  await appendSlabs(w, 3, 4);
  await w.sync();
  await reader.refresh();
  t.is(reader.totalSlabs, 7, 'synced slabs are visible to a reader');
  const sizeBefore = (await storage.stat('data/000000.slab')).size;
  const { bytesRemoved, bytesKept } = await w.rollback();
  t.true(bytesRemoved > 4 * 20000);
  t.is(bytesKept, 0);
  t.true((await storage.stat('data/000000.slab')).size < sizeBefore);
  await reader.refresh();
  await assertSlabs(t, reader, 3);
  await reader.close();
});

test('a writer that crashes loses only what it had not synced; the next one cuts the torn tail', async (t) => {
  const storage = new MemoryStorage();
  const w = await SlabStoreWriter.open(await SlabStore.open(storage), 1 << 30);
  await appendSlabs(w, 0, 3);
  await w.sync();
  await appendSlabs(w, 3, 2); // appended, never synced
  storage.crash();
  const store = await SlabStore.open(storage);
  const next = await SlabStoreWriter.open(store, 1 << 30);
  t.is(next.nextSlabId, 3);
  await appendSlabs(next, 3, 2);
  await next.close();
  await store.refresh();
  await assertSlabs(t, store, 5);
  await store.close();
});

test('object store: nothing is visible before finish seals the pair, and the next writer starts a new one', async (t) => {
  const storage = new MemoryStorage({ objectStore: true });
  const store = await SlabStore.open(storage);
  const w = await SlabStoreWriter.open(store, 1 << 30);
  await appendSlabs(w, 0, 3);
  await w.sync();
  t.deepEqual(await storage.list('data/'), [], 'unsealed files do not exist on an object store');
  await w.finish();
  await w.close();
  await store.refresh();
  await assertSlabs(t, store, 3);
  t.true((await storage.list('')).every((k) => k.sealed));

  const w2 = await SlabStoreWriter.open(store, 1 << 30);
  t.is(w2.nextSlabId, 3);
  await appendSlabs(w2, 3, 2);
  // A failed pack on an object store: its unsealed pair is dropped, the sealed one untouched.
  t.deepEqual(await w2.rollback(), { bytesRemoved: 0, bytesKept: 0 });
  const w3 = await SlabStoreWriter.open(store, 1 << 30);
  await appendSlabs(w3, 3, 2);
  await w3.close();
  await store.refresh();
  t.deepEqual(store.fileNumbers, [0, 1]);
  await assertSlabs(t, store, 5);
  await store.close();
});
