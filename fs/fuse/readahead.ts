// Per-open-file readahead: once a handle reads sequentially, whole windows are fetched ahead of
// the reader (double-buffered, growing from 512 KiB to 8 MiB) so that the kernel's 128 KiB FUSE
// reads are served from memory while the next window is decoded — the fix for restic/borg-style
// "one chunk decoded per small read". Random reads go straight to the source, with no extra work.
import type { BlockSource } from '../../src/block/source.js';

const MIN_WINDOW = 512 * 1024;
const MAX_WINDOW = 8 * 1024 * 1024;
/** Windows kept per handle: the one being read, the next one, and one behind for reordered requests. */
const MAX_WINDOWS = 3;

interface Window {
  start: number;
  end: number;
  data: Promise<Buffer>;
}

/** Bytes held in readahead windows across all handles, so many sequential readers stay bounded. */
export class ReadaheadBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

export class ReadaheadReader {
  private windows: Window[] = [];
  private nextExpected = -1;
  private streak = 0;
  private windowSize = MIN_WINDOW;
  /** Counters for --verbose and tests. */
  readonly stats = { reads: 0, fromWindow: 0, direct: 0, windows: 0 };

  constructor(readonly source: BlockSource, private readonly budget: ReadaheadBudget) {}

  get size(): number {
    return this.source.size;
  }

  /** Reads [pos, pos+len) clipped to the end of the source. */
  async read(pos: number, len: number): Promise<Buffer> {
    this.stats.reads++;
    const end = Math.min(this.source.size, pos + len);
    if (pos >= end) return Buffer.alloc(0);
    const covered = this.windows.some((w) => w.start <= pos && pos < w.end);
    // Kernel readahead sends several requests at once and they may arrive slightly out of order:
    // anything inside or right after the current windows still counts as sequential.
    if (pos === this.nextExpected || covered) this.streak++;
    else {
      this.streak = 0;
      this.windowSize = MIN_WINDOW;
      this.dropWindows(() => true);
    }
    this.nextExpected = end;
    if (this.streak >= 2 && !covered) this.addWindow(pos, Math.max(this.windowSize, end - pos));
    if (this.windows.length > 0) this.planAhead(pos);
    return this.assemble(pos, end);
  }

  async close(): Promise<void> {
    this.dropWindows(() => true);
    await this.source.close();
  }

  private async assemble(pos: number, end: number): Promise<Buffer> {
    const w = this.windows.find((x) => x.start <= pos && end <= x.end);
    if (w) {
      this.stats.fromWindow++;
      const data = await w.data;
      return data.subarray(pos - w.start, end - w.start);
    }
    // Straddles windows (or none): piece it together from windows and direct reads.
    const parts: Array<Promise<Buffer>> = [];
    let p = pos;
    while (p < end) {
      const win = this.windows.find((x) => x.start <= p && p < x.end);
      if (win) {
        const to = Math.min(end, win.end);
        const from = p;
        parts.push(win.data.then((d) => d.subarray(from - win.start, to - win.start)));
        p = to;
      } else {
        const nextStart = Math.min(end, ...this.windows.filter((x) => x.start > p).map((x) => x.start));
        parts.push(this.source.read(p, nextStart - p));
        p = nextStart;
      }
    }
    if (parts.length === 1 && !this.windows.length) this.stats.direct++;
    const bufs = await Promise.all(parts);
    return bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
  }

  /** When the reader is past the middle of the last window, fetch the one after it. */
  private planAhead(pos: number): void {
    const last = this.windows[this.windows.length - 1];
    if (pos >= last.start + (last.end - last.start) / 2 && last.end < this.source.size) {
      this.windowSize = Math.min(MAX_WINDOW, this.windowSize * 2);
      this.addWindow(last.end, this.windowSize);
    }
    // Windows wholly behind the reader are done with (keep one for stragglers).
    const behind = this.windows.filter((w) => w.end <= pos);
    if (behind.length > 1) {
      const keep = behind[behind.length - 1];
      this.dropWindows((w) => w.end <= pos && w !== keep);
    }
  }

  private addWindow(start: number, size: number): void {
    const end = Math.min(this.source.size, start + size);
    if (end <= start || end - start > this.budget.limit - this.budget.used) return;
    while (this.windows.length >= MAX_WINDOWS) this.dropWindows((w) => w === this.windows[0]);
    this.budget.used += end - start;
    const data = this.source.read(start, end - start);
    const win: Window = { start, end, data };
    // A failed window is forgotten so the next read retries (and reports) the error itself.
    data.catch(() => this.dropWindows((w) => w === win));
    this.windows.push(win);
    this.windows.sort((a, b) => a.start - b.start);
    this.stats.windows++;
    // Warm the cache for the window after this one too (slab decompression runs in parallel).
    if (end < this.source.size) this.source.prefetch?.(end, Math.min(this.windowSize, this.source.size - end)).catch(() => {});
  }

  private dropWindows(pred: (w: Window) => boolean): void {
    const keep: Window[] = [];
    for (const w of this.windows) {
      if (pred(w)) this.budget.used -= w.end - w.start;
      else keep.push(w);
    }
    this.windows = keep;
  }
}
