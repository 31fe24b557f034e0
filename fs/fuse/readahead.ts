// Per-open-file readahead: once a handle reads sequentially, aligned 4 MiB chunks ahead of the
// reader are fetched (up to 16 MiB ahead, ramping up like the kernel's readahead), so the kernel's
// 128 KiB FUSE reads are served from memory while the next chunks are decoded — the fix for
// restic/borg-style "one chunk decoded per small read". Each chunk is its own request, so a read
// waits only for the chunk it needs. Random reads go straight to the source with no extra work.
// Chunks are the source's readv() views (of cached slabs), so the only copy is into FUSE's buffer.
import { readParts, sliceParts } from '../../src/block/parts.js';
import type { BlockSource } from '../../src/block/source.js';

/** Chunk size (measured: 4 MiB chunks stream cold archive data ~1.2–1.5× faster than 1 MiB ones:
 * fewer map walks and slab lookups per byte). */
export const READAHEAD_CHUNK = 4 * 1024 * 1024;
const CHUNK = READAHEAD_CHUNK;
const MAX_AHEAD = 4;
/** A request starting this close to where a recent one ended continues its run: the kernel issues
 * several readahead requests at once and they reach us slightly out of order. */
const NEAR = 256 * 1024;
/** Request ends remembered per handle for that test. */
const RECENT = 8;
/** Near requests in a row before chunks are fetched ahead (random reads rarely line up this often). */
const MIN_STREAK = 3;
/** How far past the chunks the source is asked to prefetch (slab decompression ahead). */
const PREFETCH_BEYOND = 2 * CHUNK;
/** Chunks kept behind the reader, for requests that arrive late. */
const KEEP_BEHIND = 2;

/** Bytes held in readahead chunks across all handles, so many sequential readers stay bounded. */
export class ReadaheadBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

export class ReadaheadReader {
  private readonly chunks = new Map<number, Promise<Buffer[]>>();
  /** The chunks of `chunks` that have arrived, so a read inside one is answered without a promise. */
  private readonly arrived = new Map<number, Buffer[]>();
  private recentEnds: number[] = [];
  private streak = 0;
  private prefetchedTo = 0;
  private ahead = 1;
  /** Counters for --verbose and tests. */
  readonly stats = { reads: 0, fromChunks: 0, direct: 0, chunks: 0, resets: 0 };

  constructor(readonly source: BlockSource, private readonly budget: ReadaheadBudget) {}

  get size(): number {
    return this.source.size;
  }

  /** Reads [pos, pos+len) clipped to the end of the source, as one buffer. */
  async read(pos: number, len: number): Promise<Buffer> {
    const parts = await this.readv(pos, len);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Reads [pos, pos+len) clipped to the end of the source, as views that must not be modified. */
  async readv(pos: number, len: number): Promise<Buffer[]> {
    return this.readvNow(pos, len);
  }

  /**
   * readv, but answered at once — no promise, no trip through the microtask queue — when the
   * range lies in a chunk that has arrived: the common case of a sequential reader, whose FUSE
   * read then completes within the call.
   */
  readvNow(pos: number, len: number): Buffer[] | Promise<Buffer[]> {
    this.stats.reads++;
    const end = Math.min(this.source.size, pos + len);
    if (pos >= end) return [];
    if (this.recentEnds.some((e) => Math.abs(pos - e) <= NEAR)) {
      this.streak++;
    } else if (this.recentEnds.length > 0) {
      if (this.streak >= MIN_STREAK) this.stats.resets++;
      this.streak = 0;
      this.ahead = 1;
    }
    this.recentEnds.push(end);
    if (this.recentEnds.length > RECENT) this.recentEnds.shift();
    const first = Math.floor(pos / CHUNK);
    const last = Math.floor((end - 1) / CHUNK);
    if (this.streak >= MIN_STREAK) {
      // Keep `ahead` chunks requested past the one being read; grow the distance as the run continues.
      for (let i = first; i <= last + this.ahead; i++) this.request(i);
      if (this.ahead < MAX_AHEAD) this.ahead++;
      else this.prefetchBeyond(last + MAX_AHEAD + 1);
    }
    // Chunks far from this read are stale: behind a sequential reader, or left by an earlier run.
    if (this.chunks.size > 0) this.dropChunks((i) => i < first - KEEP_BEHIND || i > last + 2 * MAX_AHEAD);
    if (this.chunks.has(first)) this.stats.fromChunks++;
    else this.stats.direct++;
    const ready = first === last ? this.arrived.get(first) : undefined;
    if (ready) return sliceParts(ready, pos - first * CHUNK, end - first * CHUNK);
    const pieces: Array<Promise<Buffer[]>> = [];
    for (let i = first; i <= last; i++) {
      const chunk = this.chunks.get(i);
      const from = Math.max(pos, i * CHUNK);
      const to = Math.min(end, (i + 1) * CHUNK);
      if (chunk) pieces.push(chunk.then((parts) => sliceParts(parts, from - i * CHUNK, to - i * CHUNK)));
      else pieces.push(readParts(this.source, from, to - from));
    }
    // A read inside one chunk needs no assembly.
    return pieces.length === 1 ? pieces[0]! : Promise.all(pieces).then((all) => all.flat());
  }

  async close(): Promise<void> {
    if (process.env.DISKARC_RA_DEBUG) process.stderr.write(`readahead ${JSON.stringify(this.stats)}\n`);
    this.dropChunks(() => true);
    await this.source.close();
  }

  /**
   * Warms the source's own cache (the archive's slab cache) for the stretch after the chunks,
   * so decompression of the next slabs overlaps with serving this one; once per stretch.
   */
  private prefetchBeyond(chunk: number): void {
    if (!this.source.prefetch || chunk * CHUNK >= this.source.size || chunk < this.prefetchedTo) return;
    const start = chunk * CHUNK;
    const length = Math.min(PREFETCH_BEYOND, this.source.size - start);
    this.prefetchedTo = chunk + PREFETCH_BEYOND / CHUNK;
    this.source.prefetch(start, length).catch(() => {});
  }

  private request(i: number): void {
    if (this.chunks.has(i)) return;
    const start = i * CHUNK;
    const end = Math.min(this.source.size, start + CHUNK);
    if (start >= end || end - start > this.budget.limit - this.budget.used) return;
    this.budget.used += end - start;
    const data = readParts(this.source, start, end - start);
    // A failed chunk is forgotten so the next read retries (and reports) the error itself.
    data.then(
      (parts) => {
        if (this.chunks.get(i) === data) this.arrived.set(i, parts);
      },
      () => {
        if (this.chunks.get(i) === data) this.dropChunks((j) => j === i);
      },
    );
    this.chunks.set(i, data);
    this.stats.chunks++;
  }

  private dropChunks(pred: (index: number) => boolean): void {
    for (const [i, data] of this.chunks) {
      if (!pred(i)) continue;
      this.chunks.delete(i);
      this.arrived.delete(i);
      this.budget.used -= Math.min(CHUNK, this.source.size - i * CHUNK);
      void data;
    }
  }
}
