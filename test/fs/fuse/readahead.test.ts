// The per-handle readahead over a real file: sequential runs are served from chunks fetched ahead
// (one source read per chunk, none wasted), reordered requests still count as sequential, random
// reads bypass it, and every byte returned equals the file's.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlockSource } from '../../../src/block/file-source.js';
import type { BlockSource } from '../../../src/block/source.js';
import { READAHEAD_CHUNK, ReadaheadBudget, ReadaheadReader } from '../../../fs/fuse/readahead.js';
import { seededBytes } from './helpers.js';
import { Archive } from '../../../src/archive/archive.js';
import { diskarcJson } from '../../archive/harness.js';

const MiB = 1024 * 1024;

async function fixture(t: { teardown(fn: () => unknown): void }, size: number): Promise<{ path: string; data: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-ra-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'f.bin');
  await writeFile(path, seededBytes(size, 11));
  return { path, data: await readFile(path) };
}

/** The real file source, counting the reads that reach it. */
async function counted(path: string): Promise<{ source: BlockSource; reads: Array<[number, number]> }> {
  const src = await FileBlockSource.open(path);
  const reads: Array<[number, number]> = [];
  return {
    reads,
    source: {
      size: src.size,
      read: (o, l) => {
        reads.push([o, l]);
        return src.read(o, l);
      },
      extents: (o, l) => src.extents(o, l),
      close: () => src.close(),
    },
  };
}

test('a sequential reader is served from whole chunks, each read from the source once', async (t) => {
  const size = 20 * MiB + 777;
  const { path, data } = await fixture(t, size);
  const { source, reads } = await counted(path);
  const r = new ReadaheadReader(source, new ReadaheadBudget(256 * MiB));
  const step = 128 * 1024;
  for (let pos = 0; pos < size; pos += step) {
    const got = await r.read(pos, step);
    t.true(got.equals(data.subarray(pos, Math.min(size, pos + step))), `at ${pos}`);
  }
  t.true(r.stats.fromChunks > r.stats.reads * 0.9, JSON.stringify(r.stats));
  // Past the first direct reads, everything came in chunks, and no chunk was fetched twice.
  const chunkReads = reads.filter(([, l]) => l === READAHEAD_CHUNK || l === size % READAHEAD_CHUNK);
  t.is(new Set(chunkReads.map(([o]) => o)).size, chunkReads.length);
  // The first few reads (before the run is recognised) go to the source directly.
  t.true(chunkReads.length >= Math.floor(size / READAHEAD_CHUNK) - 1);
  t.true(reads.length <= Math.ceil(size / READAHEAD_CHUNK) + 3, `${reads.length} source reads`);
  await r.close();
});

test('requests arriving out of order (as kernel readahead sends them) keep the run going', async (t) => {
  const size = 16 * MiB;
  const { path, data } = await fixture(t, size);
  const { source } = await counted(path);
  const r = new ReadaheadReader(source, new ReadaheadBudget(256 * MiB));
  const step = 128 * 1024;
  const order: number[] = [];
  for (let pos = 0; pos < size; pos += 4 * step) order.push(pos + step, pos, pos + 3 * step, pos + 2 * step);
  const got = await Promise.all(order.map((pos) => r.read(pos, step)));
  order.forEach((pos, i) => {
    t.true(got[i].equals(data.subarray(pos, pos + step)));
  });
  t.is(r.stats.resets, 0);
  t.true(r.stats.fromChunks > order.length / 2, JSON.stringify(r.stats));
  await r.close();
});

test('random reads go straight to the source; the budget bounds memory held', async (t) => {
  const size = 24 * MiB;
  const { path, data } = await fixture(t, size);
  const { source, reads } = await counted(path);
  // Room for two chunks: a sequential run wants more, and must stay within it.
  const budget = new ReadaheadBudget(2 * READAHEAD_CHUNK);
  const r = new ReadaheadReader(source, budget);
  const offsets = [5 * MiB + 3, 17, 3 * MiB, 7 * MiB + 4000, MiB + 1];
  for (const o of offsets) t.true((await r.read(o, 4096)).equals(data.subarray(o, o + 4096)));
  t.deepEqual(
    reads,
    offsets.map((o) => [o, 4096]),
  );
  for (let pos = 0; pos < size; pos += 65536) {
    t.true((await r.read(pos, 65536)).equals(data.subarray(pos, pos + 65536)));
    t.true(budget.used <= budget.limit);
  }
  t.true(r.stats.chunks > 0, 'the sequential run did use chunks');
  // Reads past the end are clipped, not errors.
  t.is((await r.read(size - 10, 4096)).length, 10);
  t.is((await r.read(size + 10, 4096)).length, 0);
  await r.close();
  t.is(budget.used, 0);
});

test('over an archived stream, chunks are borrowed (nothing cached), correct under concurrent jumps, and all released', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-ra-arc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const size = 40 * MiB + 12345;
  const data = seededBytes(size, 5);
  const input = join(dir, 'in.bin');
  await writeFile(input, data);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive, '--slab-size', '256k');
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, input);
  const a = await Archive.open(archive, { cacheBytes: 256 * MiB });
  t.teardown(() => a.close());
  const r = new ReadaheadReader(await a.openStream(id), new ReadaheadBudget(256 * MiB));
  const step = 128 * 1024;
  // A sequential pass, answered from chunks.
  for (let pos = 0; pos < 20 * MiB; pos += step) t.true((await r.read(pos, step)).equals(data.subarray(pos, pos + step)), `at ${pos}`);
  t.true(r.stats.fromChunks > r.stats.reads * 0.8, JSON.stringify(r.stats));
  // Only the direct reads before the run was recognised went through the cache.
  t.true(a.cache.stats.bytes <= 1 * MiB, `a 20 MiB sequential pass left ${a.cache.stats.bytes} bytes cached`);
  // Batches of concurrent reads, each a run that ends in a jump elsewhere: the jump drops
  // chunks that reads of the same batch are still waiting on or copying from.
  for (let batch = 0; batch < 12; batch++) {
    const base = ((batch * 7919) % 30) * MiB;
    const offsets = [0, 1, 2, 3, 4, 5].map((k) => base + k * step).concat([((batch * 13) % 38) * MiB + 777, base + 6 * step]);
    const got = await Promise.all(offsets.map((o) => r.read(o, step)));
    offsets.forEach((o, i) => {
      t.true(got[i]!.equals(data.subarray(o, Math.min(size, o + step))), `batch ${batch} at ${o}`);
    });
  }
  // Reads across a chunk boundary and past the end.
  const edge = 2 * READAHEAD_CHUNK - 1000;
  t.true((await r.read(edge, 5000)).equals(data.subarray(edge, edge + 5000)));
  t.is((await r.read(size - 10, step)).length, 10);
  await r.close();
  t.is(a.cache.stats.lent, 0, 'every borrowed slab was released');
  t.true(a.cache.stats.pooled > 0, 'released slabs went back to the pool');
});
