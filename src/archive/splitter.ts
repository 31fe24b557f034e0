// Turns a stream of mapped input bytes into fills and content-defined, hashed chunks
// (format.md §6). Pure: buffers in, callbacks out, no I/O. Whole blocks (aligned to the stream
// offset) of one repeated byte become fills; data between fills is cut with the gear hash.
import { native } from '../../native/index.js';
import { cutParams, findCuts, type CutParams } from './gear.js';

export interface SplitSink {
  /** A chunk: `data` is a view valid only during the call; `hash` is its SHA-256 (view, 32 bytes). */
  chunk(data: Buffer, hash: Buffer, offset: number): void;
  /** A run of `length` bytes all equal to `byte`, starting at `offset`. */
  fill(byte: number, offset: number, length: number): void;
}

export class Splitter {
  private readonly params: CutParams;
  private tail: Buffer = Buffer.alloc(0);
  private tailOffset = 0;
  private readonly fillBlocks = new Map<number, Buffer>();
  private ends = new Uint32Array(0);
  private hashes = Buffer.alloc(0);
  private joined = Buffer.alloc(0);

  constructor(private readonly blockSize: number, private readonly sink: SplitSink) {
    this.params = cutParams(blockSize / 4, blockSize, blockSize * 8);
  }

  /** The byte every position of block [s, e) holds, or -1 when it is not a fill block. */
  private fillByte(buf: Buffer, s: number, e: number): number {
    const b = buf[s];
    if (buf[e - 1] !== b || buf[(s + e) >>> 1] !== b) return -1;
    let ref = this.fillBlocks.get(b);
    if (!ref) this.fillBlocks.set(b, (ref = Buffer.alloc(this.blockSize, b)));
    return buf.compare(ref, 0, e - s, s, e) === 0 ? b : -1;
  }

  /**
   * Feeds the mapped bytes `buf` that sit at stream offset `offset`, directly after the previous
   * push (a gap means a hole: call `endRun()` first). `buf` may be reused once this returns.
   */
  push(buf: Buffer, offset: number): void {
    let work = buf;
    let base = offset;
    if (this.tail.length) {
      // Tail + new bytes in a reused buffer: no 8 MiB garbage per push.
      const n = this.tail.length + buf.length;
      if (this.joined.length < n) this.joined = Buffer.allocUnsafeSlow(n);
      this.tail.copy(this.joined, 0);
      buf.copy(this.joined, this.tail.length);
      work = this.joined.subarray(0, n);
      base = this.tailOffset;
      this.tail = Buffer.alloc(0);
    }
    const bs = this.blockSize;
    let runStart = 0; // start of the current data run within work
    let pos = (bs - (base % bs)) % bs; // first block-aligned position
    while (pos + bs <= work.length) {
      const byte = this.fillByte(work, pos, pos + bs);
      if (byte < 0) {
        pos += bs;
        continue;
      }
      let end = pos + bs;
      while (end + bs <= work.length && this.fillByte(work, end, end + bs) === byte) end += bs;
      this.cutRun(work, runStart, pos, base, true);
      this.sink.fill(byte, base + pos, end - pos);
      runStart = pos = end;
    }
    this.cutRun(work, runStart, work.length, base, false);
  }

  /** Ends the current mapped run (before a hole, or at the end of input): the tail becomes a chunk. */
  endRun(): void {
    if (this.tail.length) {
      const t = this.tail;
      this.tail = Buffer.alloc(0);
      this.cutRun(t, 0, t.length, this.tailOffset, true);
    }
  }

  /** Chunks work[from, to); when not `complete`, bytes after the last cut are kept as the tail. */
  private cutRun(work: Buffer, from: number, to: number, base: number, complete: boolean): void {
    if (to <= from) return;
    const run = work.subarray(from, to);
    const need = Math.ceil(run.length / this.params.min) + 2;
    if (this.ends.length < need) {
      this.ends = new Uint32Array(need);
      this.hashes = Buffer.allocUnsafe(need * 32);
    }
    let n = findCuts(run, this.params, this.ends);
    const last = n ? this.ends[n - 1] : 0;
    if (last < run.length) {
      if (complete) this.ends[n++] = run.length;
      else {
        this.tail = Buffer.from(run.subarray(last));
        this.tailOffset = base + from + last;
      }
    }
    native.hashChunks(run, 0, this.ends, n, this.hashes);
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const end = this.ends[i];
      this.sink.chunk(run.subarray(prev, end), this.hashes.subarray(i * 32, i * 32 + 32), base + from + prev);
      prev = end;
    }
  }
}
