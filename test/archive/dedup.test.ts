// Deduplication across streams: a second, slightly changed version of an input writes little.
import test from 'ava';
import { copyFile, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskarcJson, run, seededBytes, tempDir } from './harness.js';

interface Packed { id: string; dataWritten: number; duplicateBytes: number; fillBytes: number; mappedSize: number }

test('a slightly modified image writes < 10% of the first stream, and packing it again writes nothing', async (t) => {
  const dir = await tempDir(t);
  const v1 = join(dir, 'v1.img');
  // A real filesystem with varied content, then v2: a few changed blocks and bytes inserted in a file's data.
  await run('truncate', ['-s', '96M', v1]);
  const src = join(dir, 'tree');
  await run('mkdir', ['-p', src]);
  for (let i = 0; i < 12; i++) await writeFile(join(src, `file${i}.bin`), seededBytes(1024 * 1024 + i * 777, i + 1));
  await run('cp', ['-r', '/usr/share/common-licenses', src]);
  t.is((await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, v1])).code, 0);
  const v2 = join(dir, 'v2.img');
  await copyFile(v1, v2);
  const fh = await open(v2, 'r+');
  for (const off of [1, 9, 20, 33, 50, 70]) await fh.write(seededBytes(3000, off), 0, 3000, off * 1024 * 1024 + 123);
  await fh.close();

  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  const p1 = await diskarcJson<Packed>('pack', '-a', archive, v1, '--name', 'v1');
  const p2 = await diskarcJson<Packed>('pack', '-a', archive, v2, '--name', 'v2');
  t.true(p1.dataWritten > 10 * 1024 * 1024, `v1 wrote ${p1.dataWritten}`);
  t.true(p2.dataWritten < p1.dataWritten * 0.1, `v2 wrote ${p2.dataWritten} vs v1 ${p1.dataWritten}`);
  t.true(p2.duplicateBytes + p2.fillBytes > p2.mappedSize * 0.9, `v2 duplicates ${p2.duplicateBytes} + fills ${p2.fillBytes} of ${p2.mappedSize}`);
  const p3 = await diskarcJson<Packed>('pack', '-a', archive, v1, '--name', 'v1-again');
  t.is(p3.dataWritten, 0);
  // Dedup also works without the saved index (rebuilt from the hash slabs).
  await run('rm', ['-f', join(archive, 'index', 'dedup.idx')]);
  const p4 = await diskarcJson<Packed>('pack', '-a', archive, v2, '--name', 'v2-again');
  t.is(p4.dataWritten, 0);
  const out = join(dir, 'out.img');
  await diskarcJson('unpack', '-a', archive, '-s', p2.id, out, '--create');
  t.is((await run('cmp', [v2, out])).code, 0);
});
