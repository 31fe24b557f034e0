// The one core interface: a random-access, read-only block source.
// Archived streams, raw images, partitions and files inside filesystems all implement it;
// every protocol (NBD, FUSE, range proxy, WebDAV) is written against it and nothing else.

import { DiskarcError } from '../errors.js';

/** What a byte range holds: real data, a run known to read as zeros, or an unmapped hole (reads as zeros). */
export type ExtentKind = 'data' | 'zero' | 'hole';

export interface Extent {
  offset: number;
  length: number;
  kind: ExtentKind;
}

export interface BlockSource {
  /** Exact size in bytes. */
  readonly size: number;
  /**
   * Reads exactly `length` bytes at `offset`. The range must lie within [0, size];
   * otherwise rejects with a DiskarcError of code 'ERANGE'.
   */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional zero-copy read: the same bytes as `read`, as buffers in order whose lengths sum to
   * `length`. They may be views of the source's cache: callers must not modify them, and should
   * copy a small piece of a large buffer rather than keep it (a view pins its whole buffer).
   * Use `readParts()` to call it with a fallback to `read`.
   */
  readv?(offset: number, length: number): Promise<Buffer[]>;
  /**
   * Optional readv for a streaming reader that holds the buffers only until it has copied or sent
   * them: they stay valid until `release()`, after which the source may reuse their memory, so
   * the caller must neither keep nor touch them. An archived stream serves a long sequential
   * pass this way without caching it. Use `borrowParts()` to call it with a fallback to `readv`.
   */
  borrowv?(offset: number, length: number): Promise<BorrowedParts>;
  /**
   * Describes [offset, offset+length) as contiguous, non-overlapping extents in order, covering
   * the whole range (clipped to size). Adjacent extents of the same kind may or may not be merged.
   */
  extents(offset: number, length: number): Promise<Extent[]>;
  /** Hints that the range will be read soon (NBD CACHE, readahead). Optional. */
  prefetch?(offset: number, length: number): Promise<void>;
  /** Releases file handles; the source is unusable afterwards. */
  close(): Promise<void>;
}

/** Buffers lent by `borrowv`, valid until `release()` (idempotent). */
export interface BorrowedParts {
  readonly parts: Buffer[];
  release(): void;
}

/** Shared range check, so every source rejects out-of-range reads the same way. */
export function checkRange(source: { size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new DiskarcError('ERANGE', `range ${offset}+${length} is outside the source (${source.size} bytes)`, {
      offset,
      length,
      size: source.size,
    });
  }
}
