// LZNT1 decompression (libfwnt "Compression methods", LZNT1): NTFS compression units are a
// sequence of chunks, each expanding to at most 4 KiB, either stored raw or as flag-grouped
// literals and back-references whose length/offset split depends on the position in the chunk.
import { DiskarcError } from '../../src/errors.js';

export const LZNT1_CHUNK_SIZE = 4096;

/**
 * Decompresses `input` into `output` (the unit buffer, pre-zeroed by the caller) and returns the
 * number of bytes produced. Stops at a zero chunk header, the end of input or a full output.
 * Corrupt input (a back-reference before the chunk start, a chunk past the input) is EFS.
 */
export function decompressLznt1(input: Buffer, output: Buffer, what = 'LZNT1 data'): number {
  let inPos = 0;
  let outPos = 0;
  while (inPos + 2 <= input.length && outPos < output.length) {
    const header = input.readUInt16LE(inPos);
    if (header === 0) break;
    const dataSize = (header & 0x0fff) + 1;
    const compressed = (header & 0x8000) !== 0;
    const start = inPos + 2;
    const end = start + dataSize;
    if (end > input.length)
      throw new DiskarcError('EFS', `${what} is corrupt: chunk at ${inPos} runs past the compressed data`, { structure: what });
    const chunkOut = outPos;
    const chunkLimit = Math.min(output.length, chunkOut + LZNT1_CHUNK_SIZE);
    if (!compressed) {
      const n = Math.min(dataSize, chunkLimit - outPos);
      input.copy(output, outPos, start, start + n);
      outPos += n;
    } else {
      let p = start;
      while (p < end && outPos < chunkLimit) {
        const flags = input[p++];
        for (let bit = 0; bit < 8 && p < end && outPos < chunkLimit; bit++) {
          if ((flags & (1 << bit)) === 0) {
            output[outPos++] = input[p++];
            continue;
          }
          if (p + 2 > end) throw new DiskarcError('EFS', `${what} is corrupt: truncated back-reference`, { structure: what });
          const v = input.readUInt16LE(p);
          p += 2;
          let shift = 12;
          let mask = 0x0fff;
          for (let i = outPos - chunkOut - 1; i >= 0x10; i >>= 1) {
            shift--;
            mask >>= 1;
          }
          const length = (v & mask) + 3;
          const distance = (v >>> shift) + 1;
          let from = outPos - distance;
          if (from < chunkOut)
            throw new DiskarcError('EFS', `${what} is corrupt: back-reference before the chunk start`, { structure: what });
          // Byte by byte: overlapping copies repeat the pattern (distance < length).
          const stop = Math.min(chunkLimit, outPos + length);
          while (outPos < stop) output[outPos++] = output[from++];
        }
      }
    }
    // A chunk shorter than 4 KiB reads as zero-padded (the caller pre-zeroed `output`).
    inPos = end;
    if (inPos + 2 <= input.length && input.readUInt16LE(inPos) !== 0) outPos = Math.max(outPos, chunkLimit);
  }
  return outPos;
}
