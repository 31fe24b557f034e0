// Random access to one archived stream as a BlockSource: the map finds the extents of a range,
// data comes from the shared SlabCache (slabs needed by one read are fetched concurrently),
// fills and holes are synthesised without I/O. Sequential readers (several at once, e.g. one per
// NBD connection of a multi-connection copy) are detected and the slabs ahead of them prefetched,
// so decompression overlaps the client's own latency instead of waiting for the next request.
import { copyParts, pushZeroParts } from '../block/parts.js';
import { checkRange, type BlockSource, type BorrowedParts, type Extent, type ExtentKind } from '../block/source.js';
import { DiskarcError } from '../errors.js';
import { ExtentType } from './layout.js';
import type { MapExtent, MapReader } from './stream-map.js';
import type { SlabCache, SlabLease } from './slab-cache.js';
import type { StreamInfo } from './stream-info.js';

/** How far out of order a read may land and still continue a sequential run (pipelined clients). */
const SEQ_SLACK = 4 * 1024 * 1024;
/** Sequential bytes read before readahead starts (a couple of requests, not a lone large read). */
const SEQ_TRIGGER = 512 * 1024;
/** Stream bytes kept prefetched ahead of a sequential reader; topped up when half is consumed. */
const READAHEAD = 8 * 1024 * 1024;
/** Sequential runs tracked at once; the least recently used one is replaced. */
const MAX_RUNS = 8;

/** One stretch of a read: `length` bytes at `dest` from `slab` at `src`, or (slab -1) a fill byte. */
interface Piece {
  dest: number;
  length: number;
  slab: number;
  src: number;
  fill: number;
}

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
    const parts = await this.readv(offset, length);
    // Not zero-filled: the parts tile the range.
    const out = Buffer.allocUnsafe(length);
    copyParts(parts, out);
    return out;
  }

  /** Zero-copy read (BlockSource.readv): data pieces are views of cached slabs, zeros of one shared buffer. */
  async readv(offset: number, length: number): Promise<Buffer[]> {
    checkRange(this, offset, length);
    if (length === 0) return [];
    this.readahead(offset, length);
    const { pieces, slabs } = await this.plan(offset, length);
    return assemble(pieces, await this.load(slabs));
  }

  /**
   * BlockSource.borrowv: like readv, but slabs the cache does not hold are decoded for this
   * caller alone into reusable buffers (SlabCache.borrow) — a streaming reader (FUSE readahead)
   * that has its own readahead. No readahead of its own, and nothing it decodes is cached.
   */
  async borrowv(offset: number, length: number): Promise<BorrowedParts> {
    checkRange(this, offset, length);
    if (length === 0) return { parts: [], release: () => {} };
    const { pieces, slabs } = await this.plan(offset, length);
    const leases = await this.borrowSlabs(slabs);
    const release = () => {
      for (const l of leases.values()) l.release();
    };
    const data = new Map<number, Buffer>();
    for (const [slab, lease] of leases) data.set(slab, lease.data);
    return { parts: assemble(pieces, data), release };
  }

  /**
   * The range as pieces in stream order — runs of one slab (chunks packed one after another land
   * one after another in their slab, so a run is one view) or fills — and, per slab, the furthest
   * byte the map says it holds (checked against the slab when it is loaded).
   */
  private async plan(offset: number, length: number): Promise<{ pieces: Piece[]; slabs: Map<number, number> }> {
    const pieces: Piece[] = [];
    const slabs = new Map<number, number>();
    const end = offset + length;
    await this.map.forEach(offset, length, (e) => {
      const from = Math.max(offset, e.offset);
      const to = Math.min(end, e.offset + e.length);
      const dest = from - offset;
      const last = pieces[pieces.length - 1];
      if (e.type !== ExtentType.Data) {
        const fill = e.type === ExtentType.Fill ? e.fillByte : 0;
        if (last && last.slab < 0 && last.fill === fill) last.length += to - from;
        else pieces.push({ dest, length: to - from, slab: -1, src: 0, fill });
        return;
      }
      const src = e.slabOffset + (from - e.offset);
      slabs.set(e.slab, Math.max(slabs.get(e.slab) ?? 0, e.slabOffset + e.length));
      if (last && last.slab === e.slab && last.src + last.length === src) last.length += to - from;
      else pieces.push({ dest, length: to - from, slab: e.slab, src, fill: 0 });
    });
    return { pieces, slabs };
  }

  /** Fetches the slabs a plan needs, concurrently, checking each holds the bytes the map points at. */
  private async load(slabs: Map<number, number>): Promise<Map<number, Buffer>> {
    const loaded = new Map<number, Buffer>();
    await Promise.all([...slabs].map(async ([slab, extentEnd]) => {
      const data = await this.cache.get(slab);
      if (extentEnd > data.length) throw this.pastSlabEnd(slab);
      loaded.set(slab, data);
    }));
    return loaded;
  }

  /** Borrows the slabs a plan needs, concurrently; on any failure releases those it got. */
  private async borrowSlabs(slabs: Map<number, number>): Promise<Map<number, SlabLease>> {
    const order = [...slabs];
    const settled = await Promise.allSettled(order.map(([slab]) => this.cache.borrow(slab)));
    const leases = new Map<number, SlabLease>();
    let failure: unknown;
    settled.forEach((r, i) => {
      const [slab, extentEnd] = order[i]!;
      if (r.status === 'rejected') failure ??= r.reason;
      else {
        leases.set(slab, r.value);
        if (extentEnd > r.value.data.length) failure ??= this.pastSlabEnd(slab);
      }
    });
    if (failure !== undefined) {
      for (const l of leases.values()) l.release();
      throw failure;
    }
    return leases;
  }

  private pastSlabEnd(slab: number): DiskarcError {
    return new DiskarcError('ECORRUPT', `stream ${this.info.id}: an extent points past the end of slab ${slab}`, { stream: this.info.id, slab });
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

/** The bytes of planned pieces: views of the slabs' data, fills and shared zeros. */
function assemble(pieces: Piece[], slabData: Map<number, Buffer>): Buffer[] {
  const out: Buffer[] = [];
  for (const p of pieces) {
    if (p.slab >= 0) out.push(slabData.get(p.slab)!.subarray(p.src, p.src + p.length));
    else if (p.fill !== 0) out.push(Buffer.alloc(p.length, p.fill));
    else pushZeroParts(out, p.length);
  }
  return out;
}
