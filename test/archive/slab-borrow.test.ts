// Borrowed reads (StreamReader.borrowv → SlabCache.borrow): the same bytes as read(), nothing a
// borrow decodes enters the cache, buffers are reused only after every lease on them is released,
// and a lease that is still held is never overwritten — under random interleavings of borrows and
// releases, which is what FUSE readahead does.
import test from 'ava';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Archive } from '../../src/archive/archive.js';
import { SLAB_FLAG_ZSTD, slabHeader } from '../../src/archive/layout.js';
import { encodeSlabHeader } from '../../src/archive/slab-file.js';
import type { BorrowedParts } from '../../src/block/source.js';
import { diskarcJson, seededBytes, tempDir } from './harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;

async function packed(t: Parameters<typeof tempDir>[0], size: number) {
  const dir = await tempDir(t);
  const input = join(dir, 'in');
  // Random data with a fill in the middle: many 256 KiB slabs, and pieces that are not slabs.
  const data = seededBytes(size, 7);
  data.fill(0xcd, 3 * MiB, 4 * MiB);
  await writeFile(input, data);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive, '--slab-size', '256k');
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, input);
  return { archive, id, source: await readFile(input) };
}

/** The packed stream opened with a slab cache of `cacheBytes`, closed when the test ends. */
async function openReader(t: Parameters<typeof tempDir>[0], archive: string, id: string, cacheBytes: number) {
  const a = await Archive.open(archive, { cacheBytes });
  t.teardown(() => a.close());
  const reader = await a.openStream(id);
  t.teardown(() => reader.close());
  return { a, reader };
}

test('borrowv gives read()\'s bytes, caches nothing, and reuses a buffer only once its leases are released', async (t) => {
  const size = 12 * MiB + 4321;
  const { archive, id, source } = await packed(t, size);
  const { a, reader } = await openReader(t, archive, id, 64 * MiB);

  const first = await reader.borrowv(0, 1 * MiB);
  t.true(Buffer.concat(first.parts).equals(source.subarray(0, MiB)));
  t.is(a.cache.stats.bytes, 0, 'a borrowed miss is not cached');
  const firstMemory = new Set(first.parts.map((p) => p.buffer));

  // While `first` is held, other borrows never get its memory.
  const second = await reader.borrowv(5 * MiB, 1 * MiB);
  t.false(second.parts.some((p) => firstMemory.has(p.buffer)), 'a held lease is not reused');
  t.true(Buffer.concat(first.parts).equals(source.subarray(0, MiB)), 'still intact');
  second.release();

  // Once released, its buffers are handed out again (no fresh memory per slab).
  first.release();
  first.release(); // idempotent
  const third = await reader.borrowv(8 * MiB, 1 * MiB);
  t.true(third.parts.some((p) => firstMemory.has(p.buffer)), 'released buffers are reused');
  t.true(Buffer.concat(third.parts).equals(source.subarray(8 * MiB, 9 * MiB)));
  third.release();

  // A cached slab is lent as it is, and its release leaves it cached.
  const viaCache = await reader.readv(10 * MiB, 4 * KiB);
  const lent = await reader.borrowv(10 * MiB, 4 * KiB);
  t.is(lent.parts[0]!.buffer, viaCache[0]!.buffer, 'a cached slab is shared, not decoded again');
  lent.release();
  t.true(Buffer.concat(await reader.readv(10 * MiB, 4 * KiB)).equals(source.subarray(10 * MiB, 10 * MiB + 4 * KiB)));
  t.true(a.cache.stats.bytes > 0);
});

test('concurrent borrows of one slab share one decode, and it outlives the first release', async (t) => {
  const size = 4 * MiB;
  const { archive, id, source } = await packed(t, size);
  const { a, reader } = await openReader(t, archive, id, 64 * MiB);
  const misses = a.cache.stats.misses;
  const [x, y] = await Promise.all([reader.borrowv(100, 50 * KiB), reader.borrowv(60 * KiB, 50 * KiB)]);
  t.is(a.cache.stats.misses - misses, 1, 'one slab, one decode');
  t.is(x.parts[0]!.buffer, y.parts[0]!.buffer);
  x.release();
  // Churn the pool: y's slab must not be handed to anyone while y holds it.
  const others = await Promise.all([1, 2, 3].map((i) => reader.borrowv(i * MiB, 256 * KiB)));
  others.forEach((o) => o.release());
  t.true(Buffer.concat(y.parts).equals(source.subarray(60 * KiB, 110 * KiB)));
  y.release();
});

test('random interleavings of borrows and releases never hand out memory that is still lent', async (t) => {
  const size = 16 * MiB + 999;
  const { archive, id, source } = await packed(t, size);
  const { a, reader } = await openReader(t, archive, id, 2 * MiB);
  // A seeded generator rather than fast-check's: its bias to edge values makes borrows repeat
  // the same cached ranges, and the case that matters — a slab two held leases share, one
  // released, then a miss that could reuse its memory — would hardly ever come up.
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let borrows = 0;
  let checked = 0;
  for (let run = 0; run < 40; run++) {
    const held: Array<{ lease: BorrowedParts; offset: number; length: number }> = [];
    const check = (h: (typeof held)[number]) => {
      checked++;
      if (!Buffer.concat(h.lease.parts).equals(source.subarray(h.offset, h.offset + h.length))) t.fail(`run ${run}: a held lease at ${h.offset}+${h.length} was overwritten`);
    };
    for (let i = 0; i < 30; i++) {
      // Offsets bunch up in a few MiB half the time, so held leases often share slabs with new borrows.
      const offset = rnd(2) ? rnd(size) : rnd(41) * 96 * KiB;
      const length = Math.min(1 + rnd(2 * MiB), size - offset);
      if (rnd(2)) {
        // Cached reads in between, as random FUSE readers mix with sequential ones.
        t.true(Buffer.concat(await reader.readv(offset, length)).equals(source.subarray(offset, offset + length)));
      } else {
        held.push({ lease: await reader.borrowv(offset, length), offset, length });
        borrows++;
      }
      for (let k = rnd(5); k > 0 && held.length > 0; k--) {
        const h = held.splice(rnd(held.length), 1)[0]!;
        check(h);
        h.lease.release();
      }
    }
    for (const h of held) {
      check(h);
      h.lease.release();
    }
  }
  t.true(borrows > 400 && checked === borrows, `${borrows} borrows, ${checked} checked`);
  t.is(a.cache.stats.lent, 0, 'every slab decoded for borrowers was handed back');
});

/** Compressible bytes (short random words repeated), so slabs are stored as zstd frames. */
function compressible(size: number, seed: number): Buffer {
  const words = Array.from({ length: 97 }, (_, i) => seededBytes(5 + (i % 11), seed * 1000 + i));
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let pos = 0; pos < size; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    pos += words[(x >>> 16) % 97]!.copy(out, pos);
  }
  return out;
}

/** Offsets of every slab record in the archive's (single) data slab file, and that file's path. */
async function slabRecords(archive: string): Promise<{ path: string; offsets: number[] }> {
  const dir = join(archive, 'data');
  const name = (await readdir(dir)).find((f) => f.endsWith('.slab'))!;
  const raw = await readFile(join(dir, name + '.offsets'));
  const offsets: number[] = [];
  for (let i = 0; i + 8 <= raw.length; i += 8) offsets.push(Number(raw.readBigUInt64LE(i)));
  return { path: join(dir, name), offsets };
}

test('compressed slabs are read and decoded by one pool job; damage still fails as it does for read()', async (t) => {
  const dir = await tempDir(t);
  const size = 6 * MiB + 777;
  const source = compressible(size, 3);
  await writeFile(join(dir, 'in'), source);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive, '--slab-size', '256k');
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, join(dir, 'in'));
  const { path, offsets } = await slabRecords(archive);
  t.true(offsets.length >= 8, `${offsets.length} slabs`);

  {
    const { a, reader } = await openReader(t, archive, id, 64 * MiB);
    const all = await reader.borrowv(0, size);
    t.true(Buffer.concat(all.parts).equals(source));
    all.release();
    // Every slab but the file's last (whose span no next offset gives) took the one-job path.
    t.is(a.cache.stats.singleJobLoads, offsets.length - 1);
  }

  // A flipped payload byte in the third slab: its CRC-32 fails, through borrowv as through read.
  const fh = await open(path, 'r+');
  const third = offsets[2]!;
  const header = Buffer.alloc(slabHeader.size);
  await fh.read(header, 0, header.length, third);
  const h = slabHeader.decode(header);
  t.is(h.flags & SLAB_FLAG_ZSTD, SLAB_FLAG_ZSTD, 'the data compressed');
  const payload = Buffer.alloc(h.storedLength);
  await fh.read(payload, 0, payload.length, third + slabHeader.size);
  const flipped = Buffer.from(payload);
  flipped[flipped.length >> 1] ^= 0x10;
  await fh.write(flipped, 0, flipped.length, third + slabHeader.size);
  {
    const { reader } = await openReader(t, archive, id, 64 * MiB);
    const at = 2 * 256 * KiB + 1000; // inside the third slab (slabs fill to close to 256 KiB)
    const viaRead = await t.throwsAsync(reader.read(at, 100));
    await t.throwsAsync(reader.borrowv(at, 100), { code: 'ECORRUPT', message: viaRead?.message } as never);
    t.regex(viaRead?.message ?? '', /fails its checksum/);
  }

  // The same damage with checksums that match it: the frame itself does not decode.
  await fh.write(encodeSlabHeader(h.flags, flipped.length, h.length, crc32(flipped)), 0, slabHeader.size, third);
  await fh.close();
  {
    const { reader } = await openReader(t, archive, id, 64 * MiB);
    const at = 2 * 256 * KiB + 1000;
    await t.throwsAsync(reader.borrowv(at, 100), { code: 'ECORRUPT', message: /does not decompress/ } as never);
    const rest = await reader.borrowv(4 * MiB, 2 * MiB);
    t.true(Buffer.concat(rest.parts).equals(source.subarray(4 * MiB, 6 * MiB)), 'other slabs still read');
    rest.release();
  }
});

test('slabs larger than the default take the one-job path too (scratch sized from the slab size)', async (t) => {
  const dir = await tempDir(t);
  const size = 9 * MiB + 5;
  // Half compressible, half random: records of ~1–2 MiB, well past a default slab's scratch.
  const source = Buffer.concat([compressible(size >> 1, 5), seededBytes(size - (size >> 1), 6)]);
  await writeFile(join(dir, 'in'), source);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive, '--slab-size', '2m');
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, join(dir, 'in'));
  const { path, offsets } = await slabRecords(archive);
  // Compressed records other than the file's last: the ones the one-job path can take.
  const file = await readFile(path);
  const eligible = offsets.slice(0, -1).filter((o) => slabHeader.decode(file.subarray(o, o + slabHeader.size)).flags & SLAB_FLAG_ZSTD);
  const spans = eligible.map((o) => offsets[offsets.indexOf(o) + 1]! - o);
  t.true(spans.some((s) => s > 1024 * KiB), `compressed record spans ${spans.join(', ')}`);
  const { a, reader } = await openReader(t, archive, id, 64 * MiB);
  const all = await reader.borrowv(0, size);
  t.true(Buffer.concat(all.parts).equals(source));
  all.release();
  t.is(a.cache.stats.singleJobLoads, eligible.length);
});
