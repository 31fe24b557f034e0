// LZNT1 decoder on hand-made chunks and on round-trips through a small reference compressor
// written here from libfwnt's description (the real peer — ntfs-3g-compressed files read back
// against icat — is in volume.test.ts).
import test from 'ava';
import fc from 'fast-check';
import { decompressLznt1 } from '../../../fs/ntfs/lznt1.js';
import { isDiskarcError } from '../../../src/errors.js';

/** Greedy LZNT1 compressor: per 4 KiB chunk, longest match in the chunk's window. */
function compressLznt1(data: Buffer): Buffer {
  const out: number[] = [];
  for (let c = 0; c < data.length; c += 4096) {
    const chunk = data.subarray(c, Math.min(data.length, c + 4096));
    const body: number[] = [];
    let p = 0;
    while (p < chunk.length) {
      const flagAt = body.length;
      body.push(0);
      for (let bit = 0; bit < 8 && p < chunk.length; bit++) {
        let shift = 12;
        for (let i = p - 1; i >= 0x10; i >>= 1) shift--;
        const maxLen = Math.min((1 << shift) + 2, chunk.length - p);
        const maxDist = Math.min(p, 1 << (16 - shift));
        let best = 0;
        let bestDist = 0;
        for (let d = 1; d <= maxDist; d++) {
          let l = 0;
          while (l < maxLen && chunk[p + l] === chunk[p - d + l]) l++;
          if (l > best) {
            best = l;
            bestDist = d;
          }
        }
        if (best >= 3) {
          const v = ((bestDist - 1) << shift) | (best - 3);
          body.push(v & 0xff, v >> 8);
          body[flagAt] |= 1 << bit;
          p += best;
        } else body.push(chunk[p++]);
      }
    }
    if (body.length >= chunk.length && chunk.length === 4096) {
      out.push(0xff, 0x3f, ...chunk); // stored chunk: size 4096, signature 3, not compressed
    } else {
      const h = 0x8000 | 0x3000 | (body.length - 1);
      out.push(h & 0xff, h >> 8, ...body);
    }
  }
  out.push(0, 0);
  return Buffer.from(out);
}

test('literal-only chunk', (t) => {
  const input = Buffer.from([0x05, 0xb0, 0x00, ...Buffer.from('abcde')]);
  const out = Buffer.alloc(16);
  t.is(decompressLznt1(input, out), 5);
  t.is(out.subarray(0, 5).toString(), 'abcde');
});

test('overlapping back-reference repeats the pattern', (t) => {
  // "ab" then a reference distance 2, length 10 → "ababababababab"
  const v = ((2 - 1) << 12) | (10 - 3);
  const body = [0b100, 0x61, 0x62, v & 0xff, v >> 8];
  const h = 0xb000 | (body.length - 1);
  const out = Buffer.alloc(32);
  t.is(decompressLznt1(Buffer.from([h & 0xff, h >> 8, ...body]), out), 12);
  t.is(out.subarray(0, 12).toString(), 'abababababab');
});

test('a stored chunk is copied verbatim', (t) => {
  const raw = Buffer.alloc(4096, 7);
  const out = Buffer.alloc(4096);
  t.is(decompressLznt1(Buffer.concat([Buffer.from([0xff, 0x3f]), raw]), out), 4096);
  t.true(out.equals(raw));
});

test('back-reference before the chunk start is EFS', (t) => {
  const v = (5 << 12) | 0;
  const body = [0b1, v & 0xff, v >> 8];
  const h = 0xb000 | (body.length - 1);
  const e = t.throws(() => decompressLznt1(Buffer.from([h & 0xff, h >> 8, ...body]), Buffer.alloc(64), 'unit 3'));
  t.true(isDiskarcError(e, 'EFS'));
});

test('chunk longer than the input is EFS', (t) => {
  t.true(
    isDiskarcError(
      t.throws(() => decompressLznt1(Buffer.from([0x10, 0xb0, 1, 2]), Buffer.alloc(64))),
      'EFS',
    ),
  );
});

test('round-trips compressible and random data', (t) => {
  const text = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(400));
  for (const data of [
    text.subarray(0, 16384),
    Buffer.alloc(16384),
    Buffer.concat([text.subarray(0, 5000), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff))]),
  ]) {
    const comp = compressLznt1(data);
    t.true(comp.length < data.length + 16);
    const out = Buffer.alloc(data.length);
    decompressLznt1(comp, out);
    t.true(out.equals(data));
  }
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 9000 }).map((a) => Buffer.from(a.map((b) => b & 0x7))),
      (data) => {
        const out = Buffer.alloc(data.length);
        decompressLznt1(compressLznt1(data), out);
        return out.equals(data);
      },
    ),
    { numRuns: 60 },
  );
});

test('random input decodes or fails with EFS', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decompressLznt1(Buffer.from(bytes), Buffer.alloc(8192));
        return true;
      } catch (e) {
        return isDiskarcError(e, 'EFS');
      }
    }),
    { numRuns: 3000 },
  );
  t.pass();
});
