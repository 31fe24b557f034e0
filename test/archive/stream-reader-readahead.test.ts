// Readahead: a sequential reader gets the slabs ahead of it loaded before it asks (several
// interleaved sequential readers are each followed); random reads prefetch nothing.
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { Archive } from '../../src/archive/archive.js';
import { diskarcJson, seededBytes, tempDir, writeSparse } from './harness.js';

const MiB = 1024 * 1024;

async function packed(t: ExecutionContext): Promise<{ archive: string; id: string; size: number }> {
  const dir = await tempDir(t);
  const input = join(dir, 'in');
  const size = 48 * MiB;
  await writeSparse(input, size, [{ offset: 0, data: seededBytes(size, 7) }]);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive, '--slab-size', '256k');
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, input);
  return { archive, id, size };
}

/** Lets queued prefetch loads finish. */
async function settle(a: Archive): Promise<void> {
  for (let last = -1; last !== a.cache.stats.misses; ) {
    last = a.cache.stats.misses;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('sequential readers (two interleaved) find the slabs ahead of them already loaded', async (t) => {
  const { archive, id } = await packed(t);
  const a = await Archive.open(archive, { cacheBytes: 64 * MiB });
  t.teardown(() => a.close());
  const reader = await a.openStream(id);
  t.teardown(() => reader.close());
  // Two sequential runs, as two NBD connections of one nbdcopy would make, interleaved.
  for (let i = 0; i < 8; i++) {
    await reader.read(i * 256 * 1024, 256 * 1024);
    await reader.read(24 * MiB + i * 256 * 1024, 256 * 1024);
  }
  await settle(a);
  const missesBefore = a.cache.stats.misses;
  t.true(missesBefore > 2 * 8, `prefetch loaded slabs beyond those read (${missesBefore} loads for 16 slabs read)`);
  // The next stretch of each run is served from the cache.
  await reader.read(2 * MiB, 2 * MiB);
  await reader.read(26 * MiB, 2 * MiB);
  t.is(a.cache.stats.misses - missesBefore, 0, 'reads just ahead of both runs were all cache hits');
});

test('random reads prefetch nothing', async (t) => {
  const { archive, id, size } = await packed(t);
  const a = await Archive.open(archive, { cacheBytes: 64 * MiB });
  t.teardown(() => a.close());
  const reader = await a.openStream(id);
  t.teardown(() => reader.close());
  const slabs = new Set<number>();
  for (let i = 0; i < 32; i++) {
    const offset = ((i * 7919 * 65536) % (size - 65536)) & ~4095;
    await reader.read(offset, 4096);
    slabs.add(offset);
  }
  await settle(a);
  t.true(a.cache.stats.misses <= slabs.size, `${a.cache.stats.misses} loads for ${slabs.size} random 4 KiB reads`);
});
