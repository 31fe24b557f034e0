// Per-open-file readahead: once a handle reads sequentially, aligned 4 MiB chunks ahead of the
// reader are fetched (up to 16 MiB ahead, ramping up like the kernel's readahead), so the kernel's
// 128 KiB FUSE reads are served from memory while the next chunks are decoded — the fix for
// restic/borg-style "one chunk decoded per small read". Each chunk is its own request, so a read
// waits only for the chunk it needs. Random reads go straight to the source with no extra work.
// Chunks are borrowed from the source (borrowv: an archive decodes them into reused buffers and
// does not cache a long pass), copied straight into FUSE's buffer, and released once dropped
// and no read is copying out of them.
import { borrowParts, copyParts, readParts, sliceParts } from '../../src/block/parts.js';
import type { BlockSource, BorrowedParts } from '../../src/block/source.js';

/** Chunk size: larger chunks mean fewer map walks and slab lookups per byte streamed (4 MiB against
 * 1 MiB: docs/bench.md, "Figures behind choices in the code"). */
export const READAHEAD_CHUNK = 4 * 1024 * 1024;
const CHUNK = READAHEAD_CHUNK;
const MAX_AHEAD = 4;
/** A request starting this close to where one of the last RECENT requests ended continues its run. */
const NEAR = 256 * 1024;
const RECENT = 8;
/** So does a request that exactly abuts one of the last ABUTTING requests, on either side. */
const ABUTTING = 64;
/**
 * Once a run is established, any request within this distance of its furthest end continues it:
 * the kernel sends a whole readahead window (4 MiB, see FuseMount: 32 requests) at once and
 * libfuse's threads deliver them in any order — with the two tests above alone, a cold 2 GiB
 * read broke its run ≈ 1 200 times, each time falling back to one chunk ahead.
 */
const RUN_WINDOW = 8 * 1024 * 1024;
/** Near requests in a row before chunks are fetched ahead (random reads rarely line up this often). */
const MIN_STREAK = 3;
/** Chunks kept behind the reader, for requests that arrive late. */
const KEEP_BEHIND = 2;

/** One chunk fetched ahead. */
interface Chunk {
  lent: Promise<BorrowedParts>;
  /** Its buffers, once they have arrived. */
  parts?: Buffer[];
  /** Reads waiting to copy out of it: it is released only when there are none. */
  pins: number;
  dropped: boolean;
  released: boolean;
}

/** Bytes held in readahead chunks across all handles, so many sequential readers stay bounded. */
export class ReadaheadBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

export class ReadaheadReader {
  private readonly chunks = new Map<number, Chunk>();
  /** [start, end) of the last ABUTTING requests, newest last. */
  private recent: Array<[number, number]> = [];
  /** Furthest end reached by the current run. */
  private frontier = 0;
  private streak = 0;
  private ahead = 1;
  /** Counters for --verbose and tests. */
  readonly stats = { reads: 0, fromChunks: 0, direct: 0, chunks: 0, resets: 0 };

  constructor(
    readonly source: BlockSource,
    private readonly budget: ReadaheadBudget,
  ) {}

  get size(): number {
    return this.source.size;
  }

  /** Reads [pos, pos+len) clipped to the end of the source, as a new buffer. */
  async read(pos: number, len: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(Math.max(0, Math.min(len, this.source.size - pos)));
    const n = await this.readInto(out, pos, len);
    return out.subarray(0, n);
  }

  /**
   * Copies [pos, pos+len), clipped to the end of the source, into `dest`; returns the bytes
   * copied — at once, within the call, when the range lies in a chunk that has arrived (the
   * common case of a sequential reader), else a promise that settles only after every copy into
   * `dest` is done (FUSE's buffer is freed once the reply is sent).
   */
  readInto(dest: Buffer, pos: number, len: number): number | Promise<number> {
    this.stats.reads++;
    const end = Math.min(this.source.size, pos + len);
    if (pos >= end) return 0;
    this.track(pos, end);
    const first = Math.floor(pos / CHUNK);
    const last = Math.floor((end - 1) / CHUNK);
    if (this.chunks.has(first)) this.stats.fromChunks++;
    else this.stats.direct++;
    const ready = first === last ? this.chunks.get(first)?.parts : undefined;
    if (ready) return copyParts(sliceParts(ready, pos - first * CHUNK, end - first * CHUNK), dest);
    return this.readIntoLater(dest, pos, end, first, last);
  }

  private async readIntoLater(dest: Buffer, pos: number, end: number, first: number, last: number): Promise<number> {
    const pinned: Chunk[] = [];
    const copies: Array<Promise<void>> = [];
    for (let i = first; i <= last; i++) {
      const from = Math.max(pos, i * CHUNK);
      const to = Math.min(end, (i + 1) * CHUNK);
      const chunk = this.chunks.get(i);
      if (chunk) {
        chunk.pins++;
        pinned.push(chunk);
        copies.push(chunk.lent.then((l) => void copyParts(sliceParts(l.parts, from - i * CHUNK, to - i * CHUNK), dest, from - pos)));
      } else {
        copies.push(readParts(this.source, from, to - from).then((parts) => void copyParts(parts, dest, from - pos)));
      }
    }
    // Every copy settles before this returns: none may land in `dest` after the reply.
    const settled = await Promise.allSettled(copies);
    for (const c of pinned) this.unpin(c);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return end - pos;
  }

  async close(): Promise<void> {
    if (process.env.DISKARC_RA_DEBUG) process.stderr.write(`readahead ${JSON.stringify(this.stats)}\n`);
    this.dropChunks(() => true);
    await this.source.close();
  }

  /** Notes a read in the handle's run; fetches chunks ahead of a sequential one, drops stale ones. */
  private track(pos: number, end: number): void {
    if (this.continuesRun(pos, end)) {
      this.streak++;
      this.frontier = Math.max(this.frontier, end);
    } else {
      if (this.streak >= MIN_STREAK) this.stats.resets++;
      this.streak = 0;
      this.ahead = 1;
      this.frontier = end;
    }
    this.recent.push([pos, end]);
    if (this.recent.length > ABUTTING) this.recent.shift();
    const first = Math.floor(pos / CHUNK);
    const last = Math.floor((end - 1) / CHUNK);
    if (this.streak >= MIN_STREAK) {
      // Keep `ahead` chunks requested past the one being read; grow the distance as the run continues.
      for (let i = first; i <= last + this.ahead; i++) this.request(i);
      if (this.ahead < MAX_AHEAD) this.ahead++;
    }
    // Chunks far from this read are stale: behind a sequential reader, or left by an earlier run.
    if (this.chunks.size > 0) this.dropChunks((i) => i < first - KEEP_BEHIND || i > last + 2 * MAX_AHEAD);
  }

  private continuesRun(pos: number, end: number): boolean {
    if (this.streak >= MIN_STREAK && Math.abs(pos - this.frontier) <= RUN_WINDOW) return true;
    const n = this.recent.length;
    for (let k = n - 1; k >= 0; k--) {
      const [s, e] = this.recent[k]!;
      if (e === pos || s === end || (k >= n - RECENT && Math.abs(pos - e) <= NEAR)) return true;
    }
    return false;
  }

  private request(i: number): void {
    if (this.chunks.has(i)) return;
    const start = i * CHUNK;
    const end = Math.min(this.source.size, start + CHUNK);
    if (start >= end || end - start > this.budget.limit - this.budget.used) return;
    this.budget.used += end - start;
    const chunk: Chunk = { lent: borrowParts(this.source, start, end - start), pins: 0, dropped: false, released: false };
    chunk.lent.then(
      (l) => (chunk.parts = l.parts),
      // A failed chunk is forgotten so the next read retries (and reports) the error itself.
      () => {
        if (this.chunks.get(i) === chunk) this.dropChunks((j) => j === i);
      },
    );
    this.chunks.set(i, chunk);
    this.stats.chunks++;
  }

  private dropChunks(pred: (index: number) => boolean): void {
    for (const [i, chunk] of this.chunks) {
      if (!pred(i)) continue;
      this.chunks.delete(i);
      this.budget.used -= Math.min(CHUNK, this.source.size - i * CHUNK);
      chunk.dropped = true;
      if (chunk.pins === 0) this.release(chunk);
    }
  }

  private unpin(chunk: Chunk): void {
    if (--chunk.pins === 0 && chunk.dropped) this.release(chunk);
  }

  /** Gives a dropped, unpinned chunk back to its source (once it has arrived). */
  private release(chunk: Chunk): void {
    if (chunk.released) return;
    chunk.released = true;
    chunk.parts = undefined;
    chunk.lent.then(
      (l) => l.release(),
      () => {},
    );
  }
}
