// The addon's one-job slab load (readRecordDecoding): a pread, the payload's CRC-32 and, for a
// zstd frame that fits, its decompression — checked against node:fs, node:zlib and zstd-napi on
// real files. Whatever the bytes, it reports what it found and never decodes past `dst`.
import test from 'ava';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { compress } from 'zstd-napi';
import { native, RECORD_FRAME_DOES_NOT_FIT, RECORD_FRAME_UNDECODABLE, RECORD_NOT_ZSTD } from '../../native/index.js';

const HEADER = 24;

function words(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0, x = seed; i < size; i++) {
    if (i % 16 === 0) x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> ((i % 4) * 8)) & 0x3f;
  }
  return out;
}

/** A file holding `prefix` bytes, then a fake 24-byte header and `payload`; returns its open handle. */
async function recordFile(t: { teardown(fn: () => unknown): void }, payload: Buffer, prefix = 100) {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-record-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'f');
  await writeFile(path, Buffer.concat([Buffer.alloc(prefix, 7), Buffer.alloc(HEADER, 0xee), payload]));
  const fh = await open(path, 'r');
  t.teardown(() => fh.close());
  return { fd: fh.fd, at: prefix, span: HEADER + payload.length };
}

test('reads the record, takes its payload CRC-32 and decodes a zstd frame into dst', async (t) => {
  const data = words(256 * 1024, 3);
  const frame = compress(data);
  const { fd, at, span } = await recordFile(t, frame);
  const scratch = Buffer.alloc(512 * 1024);
  const dst = Buffer.alloc(256 * 1024 + 4096, 0x55);
  const [got, crc, decoded] = await native.readRecordDecoding(fd, at, span, scratch, HEADER, dst);
  t.is(got, span);
  t.is(crc, crc32(frame));
  t.is(decoded, data.length);
  t.true(dst.subarray(0, decoded).equals(data));
  t.true(
    dst.subarray(decoded).every((b) => b === 0x55),
    'nothing written past the frame',
  );
  t.true(scratch.subarray(HEADER, span).equals(frame), 'the record is left in scratch');
});

test('a payload that is not a frame, a frame too large for dst, and a damaged frame are reported, not decoded', async (t) => {
  const data = words(100_000, 5);
  const raw = await recordFile(t, data);
  const scratch = Buffer.alloc(256 * 1024);
  let r = await native.readRecordDecoding(raw.fd, raw.at, raw.span, scratch, HEADER, Buffer.alloc(200_000));
  t.deepEqual(r, [raw.span, crc32(data), RECORD_NOT_ZSTD]);

  const frame = compress(data);
  const big = await recordFile(t, frame);
  const small = Buffer.alloc(data.length - 1, 0x55);
  r = await native.readRecordDecoding(big.fd, big.at, big.span, scratch, HEADER, small);
  t.is(r[2], RECORD_FRAME_DOES_NOT_FIT);
  t.true(small.every((b) => b === 0x55));

  const bad = Buffer.from(frame);
  for (let i = 40; i < bad.length - 8; i += 97) bad[i] ^= 0x5a;
  const damaged = await recordFile(t, bad);
  r = await native.readRecordDecoding(damaged.fd, damaged.at, damaged.span, scratch, HEADER, Buffer.alloc(data.length));
  t.is(r[1], crc32(bad), 'the CRC is of the bytes as stored');
  t.is(r[2], RECORD_FRAME_UNDECODABLE);
});

test('a short file gives fewer bytes; a bad descriptor or a record larger than scratch is an error', async (t) => {
  const frame = compress(words(50_000, 9));
  const f = await recordFile(t, frame);
  const scratch = Buffer.alloc(128 * 1024);
  const [got] = await native.readRecordDecoding(f.fd, f.at, f.span + 1000, scratch, HEADER, Buffer.alloc(64 * 1024));
  t.is(got, f.span, 'stops at end of file');
  const [none, , decoded] = await native.readRecordDecoding(f.fd, f.at + f.span + 50, 100, scratch, HEADER, Buffer.alloc(64));
  t.is(none, 0);
  t.is(decoded, RECORD_NOT_ZSTD);
  await t.throwsAsync(native.readRecordDecoding(987_654, 0, 100, scratch, HEADER, Buffer.alloc(64)), {
    code: 'EIO',
    message: /Bad file descriptor/,
  } as never);
  t.throws(() => native.readRecordDecoding(f.fd, 0, scratch.length + 1, scratch, HEADER, Buffer.alloc(64)), { message: /scratch/ });
});
