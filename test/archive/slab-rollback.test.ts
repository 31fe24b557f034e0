// Cutting a slab file back (a failed pack's rollback, a torn tail cut on open) under a reader
// that stays open, as a server's does: after the writer appends anew, the reader's refresh
// notices its index changed and reads the new slabs, not stale offsets.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Archive } from '../../src/archive/archive.js';
import { FileContent } from '../../src/archive/layout.js';
import { LocalStorage } from '../../src/storage/local.js';
import { SlabStoreWriter } from '../../src/archive/slab-store.js';
import { committedSlabs, cutSlabFile, SlabFileReader, SlabFileWriter } from '../../src/archive/slab-file.js';
import { diskarcJson, seededBytes, tempDir } from './harness.js';

test('a reader open across a cut and new appends reads the new slabs', async (t) => {
  const dir = await tempDir(t);
  const key = '000000.slab';
  const path = join(dir, key);
  const storage = await LocalStorage.open(dir);
  const w = await SlabFileWriter.open(storage, key, FileContent.Data, 'create');
  await w.append(0, seededBytes(1000, 1), 1000);
  const keep = { count: w.count, end: w.size };
  await w.append(0, seededBytes(3000, 2), 3000);
  await w.append(0, seededBytes(5000, 3), 5000);
  await w.close();

  const reader = await SlabFileReader.open(storage, key, FileContent.Data);
  t.is(reader.count, 3);
  await cutSlabFile(storage, key, keep); // the rollback of the two slabs after the first
  const again = await SlabFileWriter.open(storage, key, FileContent.Data, 'append');
  t.is(again.count, 1);
  const fresh = [seededBytes(2000, 4), seededBytes(4000, 5), seededBytes(700, 6)];
  for (const p of fresh) await again.append(0, p, p.length);
  await again.close();

  await reader.refresh();
  t.is(reader.count, 4);
  for (let i = 0; i < 3; i++) t.true((await reader.readSlab(i + 1)).payload.equals(fresh[i]), `slab ${i + 1} is the new one`);
  await reader.close();
});

test('opening for append cuts an unindexed tail and index entries whose slab is not intact', async (t) => {
  const dir = await tempDir(t);
  const key = '000000.slab';
  const path = join(dir, key);
  const storage = await LocalStorage.open(dir);
  const w = await SlabFileWriter.open(storage, key, FileContent.Hashes, 'create');
  await w.append(0, seededBytes(900, 1), 900);
  const size = w.size;
  await w.append(0, seededBytes(900, 2), 900);
  await w.sync(); // indexed…
  await w.close();
  const full = (await stat(path)).size;
  await truncate(path, full - 10); // …but its slab cut short, as an older writer left it after ENOSPC
  t.deepEqual((await committedSlabs(storage, key, FileContent.Hashes)).offsets.length, 1);
  const again = await SlabFileWriter.open(storage, key, FileContent.Hashes, 'append');
  t.is(again.count, 1);
  t.is(again.size, size);
  await again.close();
  t.is((await stat(path)).size, size);
  t.is((await stat(path + '.offsets')).size, 8);
});

test('a reader that saw a failed pack\'s slabs before they were cut reads a later stream right', async (t) => {
  const dir = await tempDir(t);
  const arc = join(dir, 'arc');
  await Archive.create(arc);
  const reader = await Archive.open(arc);
  t.teardown(() => reader.close());

  // Another writer appends and indexes slabs, the reader's store looks (as a server's does on
  // a miss), then that pack fails and rolls back.
  const other = await Archive.open(arc);
  const w = await SlabStoreWriter.open(other.store, other.config.slabFileLimit);
  for (let i = 0; i < 6; i++) await w.append(0, randomBytes(150000 + i * 1000), 150000 + i * 1000, randomBytes(40));
  await w.sync();
  await reader.store.refresh();
  t.is(reader.store.totalSlabs, 6);
  t.true((await w.rollback()).bytesRemoved > 0);
  await other.close();

  // A later pack commits other slabs under the same ids.
  const input = join(dir, 'input');
  const bytes = randomBytes(3 << 20);
  await writeFile(input, bytes);
  const packed = await diskarcJson<{ id: string }>('pack', '-a', arc, input);
  const stream = await reader.openStream(packed.id);
  t.true((await stream.read(0, bytes.length)).equals(bytes));
});

test('appending to a file whose offsets index is missing rebuilds the index first', async (t) => {
  const dir = await tempDir(t);
  const key = '000000.slab';
  const path = join(dir, key);
  const storage = await LocalStorage.open(dir);
  const w = await SlabFileWriter.open(storage, key, FileContent.Data, 'create');
  const payloads = [seededBytes(1000, 1), seededBytes(2000, 2), seededBytes(3000, 3)];
  for (const p of payloads) await w.append(0, p, p.length);
  await w.close();
  await rm(path + '.offsets');
  const again = await SlabFileWriter.open(storage, key, FileContent.Data, 'append');
  t.is(again.count, 3);
  payloads.push(seededBytes(4000, 4));
  await again.append(0, payloads[3], 4000);
  await again.close();
  t.is((await stat(path + '.offsets')).size, 32);
  const reader = await SlabFileReader.open(storage, key, FileContent.Data);
  t.is(reader.count, 4);
  for (let i = 0; i < 4; i++) t.true((await reader.readSlab(i)).payload.equals(payloads[i]));
  await reader.close();
});
