// A window onto a parent block source: bytes [offset, offset+length) of the parent, seen as a
// source of its own. This is how a partition (`pN`) is served, like nbdkit's partition filter.
// The window is clipped to the parent, so a partition table that overruns a truncated image still
// gives a readable (shorter) source. Closing the window leaves the parent open: the parent's owner closes it.
import { DiskarcError } from '../../src/errors.js';
import { checkRange, type BlockSource, type BorrowedParts, type Extent } from '../../src/block/source.js';
import { borrowParts, readParts } from '../../src/block/parts.js';

export class WindowSource implements BlockSource {
  readonly size: number;
  private closed = false;

  constructor(
    readonly parent: BlockSource,
    readonly offset: number,
    length: number,
  ) {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new DiskarcError('ERANGE', `invalid window ${offset}+${length}`, { offset, length });
    }
    this.size = Math.max(0, Math.min(length, parent.size - offset));
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    checkRange(this, offset, length);
    return this.parent.read(this.offset + offset, length);
  }

  async readv(offset: number, length: number): Promise<Buffer[]> {
    this.checkOpen();
    checkRange(this, offset, length);
    return readParts(this.parent, this.offset + offset, length);
  }

  async borrowv(offset: number, length: number): Promise<BorrowedParts> {
    this.checkOpen();
    checkRange(this, offset, length);
    return borrowParts(this.parent, this.offset + offset, length);
  }

  async extents(offset: number, length: number): Promise<Extent[]> {
    this.checkOpen();
    const end = Math.min(this.size, offset + length);
    if (offset < 0 || offset >= end) return [];
    const out: Extent[] = [];
    for (const e of await this.parent.extents(this.offset + offset, end - offset)) {
      // Clip defensively: a parent may round extents to its own block boundaries.
      const s = Math.max(e.offset - this.offset, offset);
      const t = Math.min(e.offset + e.length - this.offset, end);
      if (t > s) out.push({ offset: s, length: t - s, kind: e.kind });
    }
    return out;
  }

  async prefetch(offset: number, length: number): Promise<void> {
    this.checkOpen();
    const end = Math.min(this.size, offset + length);
    if (offset < 0 || offset >= end || !this.parent.prefetch) return;
    await this.parent.prefetch(this.offset + offset, end - offset);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new DiskarcError('EINTERNAL', 'partition window used after close()');
  }
}
