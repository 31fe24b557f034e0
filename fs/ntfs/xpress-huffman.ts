// XPRESS Huffman ("LZ77+Huffman", [MS-XCA] 2.2.4) decompression, as used by Windows 10 compact
// (WOF) files with XPRESS4K/8K/16K: per 64 KiB block, a 256-byte table of 512 four-bit code
// lengths, then a bit stream read as 16-bit little-endian words, most significant bit first.
import { DiskarcError } from '../../src/errors.js';

const SYMBOLS = 512;
const TABLE_BITS = 15;
const BLOCK = 65536;

/** Canonical Huffman decoding table: for each 15-bit prefix, (symbol << 4) | length, or -1. */
function buildTable(lengths: Uint8Array, what: string): Int32Array {
  const table = new Int32Array(1 << TABLE_BITS).fill(-1);
  let code = 0;
  for (let len = 1; len <= TABLE_BITS; len++) {
    for (let sym = 0; sym < SYMBOLS; sym++) {
      if (lengths[sym] !== len) continue;
      const span = 1 << (TABLE_BITS - len);
      const start = code * span;
      if (start + span > table.length)
        throw new DiskarcError('EFS', `${what} is corrupt: over-subscribed Huffman code`, { structure: what });
      table.fill((sym << 4) | len, start, start + span);
      code++;
    }
    code <<= 1;
  }
  return table;
}

/** Decompresses `input` into exactly `outLength` bytes; corrupt input is EFS, never a wrong length. */
export function decompressXpressHuffman(input: Buffer, outLength: number, what = 'XPRESS Huffman data'): Buffer {
  const fail = (why: string) => new DiskarcError('EFS', `${what} is corrupt: ${why}`, { structure: what });
  const out = Buffer.alloc(outLength);
  let inPos = 0;
  let outPos = 0;
  const read16 = (at: number) => (at + 1 < input.length ? input.readUInt16LE(at) : at < input.length ? input[at] : 0);
  while (outPos < outLength) {
    if (inPos + 256 > input.length) throw fail('Huffman table truncated');
    const lengths = new Uint8Array(SYMBOLS);
    for (let i = 0; i < 256; i++) {
      lengths[2 * i] = input[inPos + i] & 0x0f;
      lengths[2 * i + 1] = input[inPos + i] >> 4;
    }
    const table = buildTable(lengths, what);
    inPos += 256;
    let bits = ((read16(inPos) << 16) | read16(inPos + 2)) >>> 0;
    inPos += 4;
    let extra = 16;
    const consume = (n: number) => {
      bits = (bits << n) >>> 0;
      extra -= n;
      if (extra < 0) {
        bits = (bits | (read16(inPos) << -extra)) >>> 0;
        extra += 16;
        inPos += 2;
      }
    };
    const blockEnd = Math.min(outLength, outPos + BLOCK);
    while (outPos < blockEnd) {
      if (inPos > input.length + 4) throw fail('bit stream runs past the end of the input');
      const entry = table[bits >>> (32 - TABLE_BITS)];
      if (entry < 0) throw fail('invalid Huffman code');
      const sym = entry >> 4;
      consume(entry & 15);
      if (sym < 256) {
        out[outPos++] = sym;
        continue;
      }
      let length = (sym - 256) & 15;
      const offsetBits = (sym - 256) >> 4;
      if (length === 15) {
        if (inPos >= input.length) throw fail('match length truncated');
        length = input[inPos++];
        if (length === 255) {
          if (inPos + 2 > input.length) throw fail('match length truncated');
          length = input.readUInt16LE(inPos);
          inPos += 2;
          if (length === 0) {
            if (inPos + 4 > input.length) throw fail('match length truncated');
            length = input.readUInt32LE(inPos);
            inPos += 4;
          }
          if (length < 15) throw fail('invalid match length');
          length -= 15;
        }
        length += 15;
      }
      length += 3;
      const offset = (offsetBits ? bits >>> (32 - offsetBits) : 0) + (1 << offsetBits);
      consume(offsetBits);
      if (offset > outPos) throw fail(`match offset ${offset} before the start of the output`);
      const stop = Math.min(outLength, outPos + length);
      // Byte by byte: overlapping matches repeat their pattern.
      for (let from = outPos - offset; outPos < stop; ) out[outPos++] = out[from++];
    }
  }
  return out;
}
