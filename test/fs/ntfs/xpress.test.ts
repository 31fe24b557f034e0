// XPRESS Huffman (WOF XPRESS4K/8K/16K) decoding against an independent encoder: wimlib
// (`wimcapture --compress=XPRESS`) stores file data as the same chunk-table + chunks resource
// that a WofCompressedData stream holds, so each WIM resource is read through our WofSource and
// compared with the original file.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { BlockSource } from '../../../src/block/source.js';
import { isDiskarcError } from '../../../src/errors.js';
import { WofSource } from '../../../fs/ntfs/wof-stream.js';
import { decompressXpressHuffman } from '../../../fs/ntfs/xpress-huffman.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function memory(buf: Buffer): BlockSource {
  return { size: buf.length, read: async (o, l) => buf.subarray(o, o + l), extents: async () => [], close: async () => {} };
}

/** Deterministic test content with long runs, text, binary and incompressible parts. */
function contents(): Map<string, Buffer> {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 24;
  };
  const random = (n: number) => Buffer.from(Array.from({ length: n }, rnd));
  const text = Buffer.from(
    Array.from({ length: 4000 }, (_, i) => `line ${i}: the quick brown fox ${i % 7} jumps over ${i % 13}\n`).join(''),
  );
  return new Map([
    ['text.txt', text.subarray(0, 150001)],
    ['zeros.bin', Buffer.alloc(100003)], // matches longer than 255+15: 16-bit length fields
    ['random.bin', random(50005)], // stored raw
    ['mixed.bin', Buffer.concat([random(3000), text.subarray(0, 20000), Buffer.alloc(9000, 0x41), random(777)])],
    ['small.bin', Buffer.from('tiny')],
  ]);
}

let dir = '';
const files = contents();
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-xpress-'));
  await mkdir(join(dir, 'src'));
  for (const [name, data] of files) await writeFile(join(dir, 'src', name), data);
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function wimcapture(wim: string, chunkSize: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('wimcapture', [join(dir, 'src'), wim, '--compress=XPRESS', `--chunk-size=${chunkSize}`], (err, _o, stderr) =>
      err ? reject(new Error(`wimcapture: ${stderr}`)) : resolve(),
    );
  });
}

/** Non-metadata blobs of a WIM: [resource bytes, uncompressed size] from its blob table. */
function blobs(wim: Buffer): Array<{ resource: Buffer; size: number; compressed: boolean }> {
  const tableSize = wim.readUIntLE(0x30, 6);
  const tableOffset = Number(wim.readBigUInt64LE(0x38));
  const out = [];
  for (let e = tableOffset; e + 50 <= tableOffset + tableSize; e += 50) {
    const size = wim.readUIntLE(e, 6);
    const flags = wim[e + 7];
    const offset = Number(wim.readBigUInt64LE(e + 8));
    const original = Number(wim.readBigUInt64LE(e + 16));
    if (flags & 2) continue; // metadata resource
    out.push({ resource: wim.subarray(offset, offset + size), size: original, compressed: (flags & 4) !== 0 });
  }
  return out;
}

for (const [algorithm, chunkSize] of [
  ['XPRESS4K', 4096],
  ['XPRESS8K', 8192],
  ['XPRESS16K', 16384],
] as const) {
  test(`${algorithm}: every wimlib-compressed resource decodes to the original file`, async (t) => {
    const wim = join(dir, `${algorithm}.wim`);
    await wimcapture(wim, chunkSize);
    const found = blobs(await readFile(wim));
    let decoded = 0;
    for (const [name, data] of files) {
      if (data.length <= 4) continue; // wimlib stores tiny files uncompressed
      const blob = found.find((b) => b.size === data.length);
      if (!blob) return t.fail(`${name}: no blob of ${data.length} bytes in the WIM`);
      if (!blob.compressed) {
        // wimlib stores an incompressible file without a chunk table; nothing to decode.
        t.is(name, 'random.bin');
        continue;
      }
      if (name !== 'random.bin') t.true(blob.resource.length < data.length / 2, `${name} is really compressed`);
      const src = new WofSource(memory(blob.resource), data.length, algorithm, `${name} in ${algorithm}.wim`);
      t.is(sha(await src.read(0, data.length)), sha(data), name);
      // Random access inside a chunk, across chunk boundaries.
      const at = Math.floor(data.length / 3);
      t.true((await src.read(at, Math.min(10000, data.length - at))).equals(data.subarray(at, at + 10000)), name);
      decoded++;
    }
    t.true(decoded >= 3);
  });
}

test('corrupt XPRESS input fails with EFS or decodes to the requested length, never anything else', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.integer({ min: 1, max: 4096 }), (bytes, n) => {
      try {
        return decompressXpressHuffman(Buffer.from(bytes), n).length === n;
      } catch (e) {
        return isDiskarcError(e, 'EFS');
      }
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
