// The addon's zstd decoder (slab reads run on libuv's pool): output equals zstd-napi's input for
// frames zstd-napi wrote; damaged frames, truncated frames and wrong lengths reject, never crash.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { compress } from 'zstd-napi';
import { native, zstdDecompress } from '../../native/index.js';

function sample(size: number, seed: number): Buffer {
  // Compressible but not trivial: repeated random words.
  const words = Array.from({ length: 64 }, (_, i) => randomBytes(8 + ((i * seed) % 24)));
  const out = Buffer.alloc(size);
  for (let pos = 0, i = seed; pos < size; i = (i * 1103515245 + 12345) >>> 0) pos += words[i % 64]!.copy(out, pos);
  return out;
}

test('decodes frames written by zstd-napi, of any size, many at once', async (t) => {
  const inputs = [0, 1, 4095, 65536, 1024 * 1024 + 7, 3 * 1024 * 1024].map((n, i) => sample(n, i + 1));
  const outs = await Promise.all(inputs.map((b) => zstdDecompress(compress(b), b.length)));
  outs.forEach((o, i) => {
    t.true(o.equals(inputs[i]!), `size ${inputs[i]!.length}`);
  });
});

test('the CRC-32 of the frame is checked first when given (same polynomial as node:zlib)', async (t) => {
  const data = sample(100_000, 3);
  const frame = compress(data);
  t.true((await zstdDecompress(frame, data.length, crc32(frame))).equals(data));
  await t.throwsAsync(zstdDecompress(frame, data.length, (crc32(frame) ^ 1) >>> 0), { code: 'ECHECKSUM' } as never);
  const bad = Buffer.from(frame);
  bad[bad.length >> 1] ^= 0x40;
  await t.throwsAsync(zstdDecompress(bad, data.length, crc32(frame)), { code: 'ECHECKSUM' } as never);
});

test('a wrong length, a truncated frame or flipped bytes reject with a reason', async (t) => {
  const data = sample(256 * 1024, 9);
  const frame = compress(data);
  await t.throwsAsync(zstdDecompress(frame, data.length - 1), { message: /./ });
  await t.throwsAsync(zstdDecompress(frame, data.length + 1), { message: /expected/ });
  await t.throwsAsync(zstdDecompress(frame.subarray(0, frame.length >> 1), data.length));
  await t.throwsAsync(zstdDecompress(Buffer.from('not a zstd frame'), 16));
  // Bounded fuzz: every mutated frame either decodes to exactly the length asked or rejects.
  let rejected = 0;
  for (let i = 0; i < 300; i++) {
    const bad = Buffer.from(frame);
    for (let k = 0; k <= i % 4; k++) bad[(i * 7919 + k * 104729) % bad.length] ^= 1 + ((i + k) % 255);
    try {
      const out = await zstdDecompress(bad, data.length);
      t.is(out.length, data.length);
    } catch {
      rejected++;
    }
  }
  t.true(rejected > 0);
  await t.throwsAsync(zstdDecompress(frame, -1), { instanceOf: RangeError });
  t.throws(() => native.zstdDecompressInto('x' as never, Buffer.alloc(1), -1), { instanceOf: TypeError });
});
