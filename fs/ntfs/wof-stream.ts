// Windows 10 "compact" (WOF) file content: the unnamed $DATA is an all-sparse placeholder and
// the bytes live in the `WofCompressedData` stream as a chunk-offset table plus chunks of 4, 8,
// 16 KiB (XPRESS) or 32 KiB (LZX). Chunks stored raw (stored size = chunk size) are copied,
// XPRESS chunks decoded; LZX-compressed chunks are refused with EFS (no decoder) — never wrong bytes.
import { checkRange, type BlockSource, type Extent } from '../../src/block/source.js';
import { DiskarcError } from '../../src/errors.js';
import { corrupt } from './layout.js';
import { decompressXpressHuffman } from './xpress-huffman.js';

export const WOF_STREAM = 'WofCompressedData';

/** Chunk size of each FILE_PROVIDER algorithm (reparse.ts WofAlgorithms order). */
export const WofChunkSize: Record<string, number> = { XPRESS4K: 4096, LZX: 32768, XPRESS8K: 8192, XPRESS16K: 16384 };

export class WofSource implements BlockSource {
  private readonly chunkSize: number;
  private readonly chunks: number;
  private readonly entrySize: number;
  private readonly tableBytes: number;
  private cached?: { index: number; data: Buffer };

  constructor(
    /** The WofCompressedData stream. */
    private readonly stored: BlockSource,
    /** Uncompressed size (the unnamed $DATA's data size). */
    readonly size: number,
    readonly algorithm: string,
    private readonly what: string,
  ) {
    const chunkSize = WofChunkSize[algorithm];
    if (!chunkSize) throw new DiskarcError('EFS', `${what}: unknown WOF compression algorithm (${algorithm})`, { structure: what });
    this.chunkSize = chunkSize;
    this.chunks = Math.ceil(size / chunkSize);
    this.entrySize = size > 0xffffffff ? 8 : 4;
    this.tableBytes = Math.max(0, this.chunks - 1) * this.entrySize;
    if (this.tableBytes > stored.size)
      throw corrupt(what, `chunk table (${this.tableBytes} bytes) is larger than the stream (${stored.size} bytes)`);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    const out = Buffer.alloc(length);
    for (let pos = offset; pos < offset + length; ) {
      const index = Math.floor(pos / this.chunkSize);
      const chunk = await this.chunk(index);
      const from = pos - index * this.chunkSize;
      const n = Math.min(chunk.length - from, offset + length - pos);
      chunk.copy(out, pos - offset, from, from + n);
      pos += n;
    }
    return out;
  }

  async extents(offset: number, length: number): Promise<Extent[]> {
    const end = Math.min(this.size, offset + length);
    return end > offset ? [{ offset, length: end - offset, kind: 'data' }] : [];
  }

  async close(): Promise<void> {
    this.cached = undefined;
  }

  /** Start of chunk `i` within the stream (the table holds chunks 1…, relative to its end). */
  private async chunkStart(i: number): Promise<number> {
    if (i === 0) return this.tableBytes;
    if (i === this.chunks) return this.stored.size;
    const b = await this.stored.read((i - 1) * this.entrySize, this.entrySize);
    const rel = this.entrySize === 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
    return this.tableBytes + rel;
  }

  private async chunk(index: number): Promise<Buffer> {
    if (this.cached?.index === index) return this.cached.data;
    const start = await this.chunkStart(index);
    const end = await this.chunkStart(index + 1);
    const plain = Math.min(this.chunkSize, this.size - index * this.chunkSize);
    const at = `${this.what} chunk ${index}`;
    if (!(start <= end && end <= this.stored.size) || end - start > plain || (end === start && plain > 0)) {
      throw corrupt(at, `stored range ${start}..${end} is invalid (stream ${this.stored.size} bytes, chunk ${plain} bytes)`);
    }
    let data: Buffer;
    if (end - start === plain) data = await this.stored.read(start, plain);
    else if (this.algorithm.startsWith('XPRESS')) data = decompressXpressHuffman(await this.stored.read(start, end - start), plain, at);
    else {
      throw new DiskarcError(
        'EFS',
        `${at} is ${this.algorithm}-compressed; decoding ${this.algorithm} WOF chunks is not supported (see docs/ntfs.md)`,
        { structure: at, algorithm: this.algorithm },
      );
    }
    this.cached = { index, data };
    return data;
  }
}
