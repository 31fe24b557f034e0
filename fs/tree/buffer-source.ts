// Small in-memory and borrowed BlockSources the tree hands out: generated files (info.json)
// and per-handle views of a shared source that must outlive any one open file.
import { DiskarcError } from '../../src/errors.js';
import { checkRange, type BlockSource, type BorrowedParts, type Extent } from '../../src/block/source.js';
import { borrowParts, readParts } from '../../src/block/parts.js';

/** A generated file's bytes as a source. */
export class BufferSource implements BlockSource {
  readonly size: number;
  constructor(private readonly data: Buffer) {
    this.size = data.length;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    return Buffer.from(this.data.subarray(offset, offset + length));
  }

  async extents(offset: number, length: number): Promise<Extent[]> {
    const end = Math.min(this.size, offset + length);
    return offset < end ? [{ offset, length: end - offset, kind: 'data' }] : [];
  }

  async close(): Promise<void> {}
}

/**
 * A view of a source owned by someone else (the tree's shared stream reader): reads pass through,
 * close() only detaches this view, so closing one open file never breaks another.
 */
export class BorrowedSource implements BlockSource {
  readonly size: number;
  private closed = false;
  constructor(private readonly inner: BlockSource) {
    this.size = inner.size;
  }

  read(offset: number, length: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new DiskarcError('EINTERNAL', 'read on a closed source'));
    return this.inner.read(offset, length);
  }

  readv(offset: number, length: number): Promise<Buffer[]> {
    if (this.closed) return Promise.reject(new DiskarcError('EINTERNAL', 'read on a closed source'));
    return readParts(this.inner, offset, length);
  }

  borrowv(offset: number, length: number): Promise<BorrowedParts> {
    if (this.closed) return Promise.reject(new DiskarcError('EINTERNAL', 'read on a closed source'));
    return borrowParts(this.inner, offset, length);
  }

  extents(offset: number, length: number): Promise<Extent[]> {
    return this.inner.extents(offset, length);
  }

  async prefetch(offset: number, length: number): Promise<void> {
    await this.inner.prefetch?.(offset, length);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
