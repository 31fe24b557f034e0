// Cutting a slab file back (a failed pack's rollback, a torn tail cut on open) under a reader
// that stays open, as a server's does: after the writer appends anew, the reader's refresh
// notices its index changed and reads the new slabs, not stale offsets.
import test from 'ava';
import { stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { FileContent } from '../../src/archive/layout.js';
import { committedSlabs, cutSlabFile, SlabFileReader, SlabFileWriter } from '../../src/archive/slab-file.js';
import { seededBytes, tempDir } from './harness.js';

test('a reader open across a cut and new appends reads the new slabs', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, '000000.slab');
  const w = await SlabFileWriter.open(path, FileContent.Data, 'create');
  await w.append(0, seededBytes(1000, 1), 1000);
  const keep = { count: w.count, end: w.size };
  await w.append(0, seededBytes(3000, 2), 3000);
  await w.append(0, seededBytes(5000, 3), 5000);
  await w.close();

  const reader = await SlabFileReader.open(path, FileContent.Data);
  t.is(reader.count, 3);
  await cutSlabFile(path, keep); // the rollback of the two slabs after the first
  const again = await SlabFileWriter.open(path, FileContent.Data, 'append');
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
  const path = join(dir, '000000.slab');
  const w = await SlabFileWriter.open(path, FileContent.Hashes, 'create');
  await w.append(0, seededBytes(900, 1), 900);
  const size = w.size;
  await w.append(0, seededBytes(900, 2), 900);
  await w.sync(); // indexed…
  await w.close();
  const full = (await stat(path)).size;
  await truncate(path, full - 10); // …but its slab cut short, as an older writer left it after ENOSPC
  t.deepEqual((await committedSlabs(path, FileContent.Hashes)).offsets.length, 1);
  const again = await SlabFileWriter.open(path, FileContent.Hashes, 'append');
  t.is(again.count, 1);
  t.is(again.size, size);
  await again.close();
  t.is((await stat(path)).size, size);
  t.is((await stat(path + '.offsets')).size, 8);
});
