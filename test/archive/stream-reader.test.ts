// Random access: read(offset, length) equals the same slice of the source anywhere in the
// stream — across extent, page and slab boundaries — with a cache far smaller than the stream;
// readv() gives the same bytes as views of the cache.
import test from 'ava';
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Archive } from '../../src/archive/archive.js';
import { diskarcJson, seededBytes, tempDir, writeSparse } from './harness.js';

test('read() equals the source for random ranges; extents() matches the layout', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in');
  const size = 24 * 1024 * 1024 + 4321;
  // Small blocks and slabs: many extents (several map pages) and many slabs.
  const pieces = [
    { offset: 0, data: seededBytes(6 * 1024 * 1024, 1) },
    { offset: 7 * 1024 * 1024, data: Buffer.alloc(2 * 1024 * 1024, 0xab) },
    { offset: 9 * 1024 * 1024 + 17, data: seededBytes(5 * 1024 * 1024, 2) },
    { offset: 16 * 1024 * 1024, data: Buffer.alloc(1024 * 1024) },
    { offset: 20 * 1024 * 1024 + 999, data: seededBytes(4 * 1024 * 1024 + 3322, 3) },
  ];
  await writeSparse(input, size, pieces);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive, '--block-size', '1024', '--slab-size', '256k');
  const packed = await diskarcJson<{ id: string; extentCount: number }>('pack', '-a', archive, input);
  t.true(packed.extentCount > 4096 * 3, `${packed.extentCount} extents span several map pages`);
  const source = await readFile(input);
  const a = await Archive.open(archive, { cacheBytes: 1024 * 1024 });
  t.teardown(() => a.close());
  const reader = await a.openStream(packed.id);
  t.teardown(() => reader.close());
  t.is(reader.size, size);
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: size }), fc.integer({ min: 0, max: 3 * 1024 * 1024 }), async (offset, len) => {
    const length = Math.min(len, size - offset);
    const want = source.subarray(offset, offset + length);
    const got = await reader.read(offset, length);
    // readv: the same bytes as views (of cached slabs and shared zeros), no empty pieces.
    const parts = await reader.readv(offset, length);
    return got.equals(want) && Buffer.concat(parts).equals(want) && parts.every((p) => p.length > 0);
  }), { numRuns: 300 });
  // Zero-copy: two readv calls of one cached range return views of the same slab memory.
  const [v1] = await reader.readv(100, 4000);
  const [v2] = await reader.readv(100, 4000);
  t.is(v1!.buffer, v2!.buffer, 'readv hands out the cached slab, not a copy');
  t.true(v1!.buffer.byteLength > 4000);
  // Concurrent reads of overlapping ranges share slab loads and all return the right bytes.
  const ranges = Array.from({ length: 64 }, (_, i) => ({ offset: (i * 377777) % (size - 70000), length: 65536 }));
  const results = await Promise.all(ranges.map((r) => reader.read(r.offset, r.length)));
  results.forEach((b, i) => t.true(b.equals(source.subarray(ranges[i].offset, ranges[i].offset + 65536))));
  t.true(a.cache.stats.bytes <= 1024 * 1024, 'cache stays within its budget');
  // Extents: the hole at 6–7 MiB, the 0xAB fill is data, the zero MiB at 16 MiB is zero.
  const ext = await reader.extents(0, size);
  const kindAt = (off: number) => ext.find((e) => off >= e.offset && off < e.offset + e.length)?.kind;
  t.is(kindAt(6 * 1024 * 1024 + 5), 'hole');
  t.is(kindAt(7 * 1024 * 1024 + 5), 'data');
  t.is(kindAt(16 * 1024 * 1024 + 4096), 'zero');
  t.is(kindAt(100), 'data');
  t.is(ext.reduce((n, e) => n + e.length, 0), size);
  await t.throwsAsync(reader.read(size - 1, 2), { code: 'ERANGE' } as never);
});
