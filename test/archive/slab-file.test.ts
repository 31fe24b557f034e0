// Slab files: what is appended reads back; the offsets index is derived (a missing one is
// rebuilt by scanning); a torn tail is detected and never appended to.
import test from 'ava';
import { appendFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FileContent } from '../../src/archive/layout.js';
import { LocalStorage } from '../../src/storage/local.js';
import { committedSlabs, rebuildOffsets, SlabFileReader, SlabFileWriter } from '../../src/archive/slab-file.js';
import { seededBytes, tempDir } from './harness.js';

test('append, read back, rebuild offsets, detect a torn tail', async (t) => {
  const dir = await tempDir(t);
  const key = '000000.slab';
  const path = join(dir, key);
  const storage = await LocalStorage.open(dir);
  const w = await SlabFileWriter.open(storage, key, FileContent.Data, 'create');
  const payloads = [seededBytes(1000, 1), seededBytes(0, 2), seededBytes(70000, 3)];
  for (const p of payloads) await w.append(0, p, p.length);
  await w.close();
  const r = await SlabFileReader.open(storage, key, FileContent.Data);
  t.is(r.count, 3);
  for (let i = 0; i < 3; i++) t.true((await r.readSlab(i)).payload.equals(payloads[i]));
  await r.close();
  t.deepEqual((await committedSlabs(storage, key, FileContent.Data)).offsets.length, 3);

  await rm(path + '.offsets');
  const rebuilt = await SlabFileReader.open(storage, key, FileContent.Data);
  t.is(rebuilt.count, 3, 'offsets rebuilt by scanning');
  t.true((await rebuilt.readSlab(2)).payload.equals(payloads[2]));
  await rebuilt.close();

  await appendFile(path, Buffer.from('half a slab header'));
  t.is((await rebuildOffsets(storage, key, FileContent.Data)).length, 3, 'garbage after the last slab is ignored');
  await t.throwsAsync(SlabFileReader.open(storage, key, FileContent.Hashes), { message: /content type 1, expected 2/ });
});
