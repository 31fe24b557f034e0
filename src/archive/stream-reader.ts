// Random access to one archived stream as a BlockSource: the map finds the extents of a range,
// data comes from the shared SlabCache (slabs needed by one read are fetched concurrently),
// fills and holes are synthesised without I/O. Sequential readers (several at once, e.g. one per
// NBD connection of a multi-connection copy) are detected and the slabs ahead of them prefetched,
// so decompression overlaps the client's own latency instead of waiting for the next request.
import { checkRange, type BlockSource, type Extent, type ExtentKind } from '../block/source.js';
import { DiskarcError } from '../errors.js';
import { ExtentType } from './layout.js';
import type { MapExtent, MapReader } from './stream-map.js';
import type { SlabCache } from './slab-cache.js';
import type { StreamInfo } from './stream-info.js';

/** How far out of order a read may land and still continue a sequential run (pipelined clients). */
const SEQ_SLACK = 4 * 1024 * 1024;
/** Sequential bytes read before readahead starts (a couple of requests, not a lone large read). */
const SEQ_TRIGGER = 512 * 1024;
/** Stream bytes kept prefetched ahead of a sequential reader; topped up when half is consumed. */
const READAHEAD = 8 * 1024 * 1024;
/** Sequential runs tracked at once; the least recently used one is replaced. */
const MAX_RUNS = 8;

interface SequentialRun {
  /** End of the furthest read in this run. */
  next: number;
  /** Bytes read in this run so far. */
  bytes: number;
  /** Prefetch has been issued up to here. */
  ahead: number;
  lastUse: number;
}

export class StreamReader implements BlockSource {
  readonly size: number;
  private readonly runs: SequentialRun[] = [];
  private clock = 0;

  constructor(readonly info: StreamInfo, private readonly map: MapReader, private readonly cache: SlabCache) {
    this.size = info.size;
  }

  /** The raw map extents overlapping a range (for verify and dump-stream). */
  mapExtents(offset: number, length: number, visit: (e: MapExtent) => boolean | void | Promise<boolean | void>): Promise<void> {
    return this.map.forEach(offset, length, visit);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    if (length === 0) return Buffer.alloc(0);
    // Not zero-filled: the map tiles the range (MapReader checks contiguity), and every extent
    // below writes its bytes — data copied, fills and holes filled — or the read fails.
    const out = Buffer.allocUnsafe(length);
    this.readahead(offset, length);
    // Copies grouped by slab: one cache lookup per slab, however many chunks the range spans.
    const bySlab = new Map<number, number[]>(); // slab → [dest, slabStart, length, extentEnd (checked against the slab)] ...
    const end = offset + length;
    await this.map.forEach(offset, length, (e) => {
      const from = Math.max(offset, e.offset);
      const to = Math.min(end, e.offset + e.length);
      if (e.type !== ExtentType.Data) {
        out.fill(e.type === ExtentType.Fill ? e.fillByte : 0, from - offset, to - offset);
      } else {
        let copies = bySlab.get(e.slab);
        if (!copies) bySlab.set(e.slab, (copies = []));
        const dest = from - offset;
        const src = e.slabOffset + (from - e.offset);
        const n = copies.length;
        // Chunks packed one after another land one after another in the slab: one copy for the run.
        if (n > 0 && copies[n - 4] + copies[n - 2] === dest && copies[n - 3] + copies[n - 2] === src) {
          copies[n - 2] += to - from;
          copies[n - 1] = Math.max(copies[n - 1], e.slabOffset + e.length);
        } else copies.push(dest, src, to - from, e.slabOffset + e.length);
      }
    });
    await Promise.all([...bySlab].map(async ([slab, copies]) => {
      const data = await this.cache.get(slab);
      for (let i = 0; i < copies.length; i += 4) {
        if (copies[i + 3] > data.length) {
          throw new DiskarcError('ECORRUPT', `stream ${this.info.id}: an extent points past the end of slab ${slab}`, { stream: this.info.id, slab });
        }
        data.copy(out, copies[i], copies[i + 1], copies[i + 1] + copies[i + 2]);
      }
    }));
    return out;
  }

  async extents(offset: number, length: number): Promise<Extent[]> {
    const out: Extent[] = [];
    const end = Math.min(this.size, offset + length);
    if (offset >= end) return out;
    await this.map.forEach(offset, end - offset, (e) => {
      const kind: ExtentKind = e.type === ExtentType.Unmapped ? 'hole' : e.type === ExtentType.Fill && e.fillByte === 0 ? 'zero' : 'data';
      const from = Math.max(offset, e.offset);
      const to = Math.min(end, e.offset + e.length);
      const last = out[out.length - 1];
      if (last && last.kind === kind) last.length += to - from;
      else out.push({ offset: from, length: to - from, kind });
    });
    return out;
  }

  /** Notes a read in its sequential run (or starts one) and keeps READAHEAD bytes prefetched ahead of it. */
  private readahead(offset: number, length: number): void {
    const end = offset + length;
    this.clock++;
    let run = this.runs.find((r) => offset <= r.next + SEQ_SLACK && end >= r.next - SEQ_SLACK);
    if (!run) {
      if (this.runs.length >= MAX_RUNS) {
        run = this.runs.reduce((a, b) => (a.lastUse <= b.lastUse ? a : b));
        Object.assign(run, { next: end, bytes: length, ahead: end });
      } else {
        run = { next: end, bytes: length, ahead: end, lastUse: 0 };
        this.runs.push(run);
      }
      run.lastUse = this.clock;
      return;
    }
    run.lastUse = this.clock;
    run.bytes += length;
    run.next = Math.max(run.next, end);
    if (run.bytes < SEQ_TRIGGER || run.next >= this.size || run.ahead - run.next > READAHEAD / 2) return;
    const from = Math.max(run.ahead, run.next);
    const to = Math.min(this.size, run.next + READAHEAD);
    if (to <= from) return;
    run.ahead = to;
    // A failed prefetch is not this read's failure: the read that needs that slab loads it again
    // (the cache keeps no failed loads) and reports the error to its client.
    this.prefetch(from, to - from).catch(() => {});
  }

  /** Warms the slab cache for a range (NBD CACHE, FUSE readahead). */
  async prefetch(offset: number, length: number): Promise<void> {
    const slabs = new Set<number>();
    await this.map.forEach(offset, Math.min(length, this.size - offset), (e) => {
      if (e.type === ExtentType.Data) slabs.add(e.slab);
    });
    await Promise.all([...slabs].map((s) => this.cache.get(s)));
  }

  async close(): Promise<void> {
    await this.map.close();
  }
}
