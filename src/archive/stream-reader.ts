// Random access to one archived stream as a BlockSource: the map finds the extents of a range,
// data comes from the shared SlabCache (slabs needed by one read are fetched concurrently),
// fills and holes are synthesised without I/O.
import { checkRange, type BlockSource, type Extent, type ExtentKind } from '../block/source.js';
import { DiskarcError } from '../errors.js';
import { ExtentType } from './layout.js';
import type { MapExtent, MapReader } from './stream-map.js';
import type { SlabCache } from './slab-cache.js';
import type { StreamInfo } from './stream-info.js';

export class StreamReader implements BlockSource {
  readonly size: number;

  constructor(readonly info: StreamInfo, private readonly map: MapReader, private readonly cache: SlabCache) {
    this.size = info.size;
  }

  /** The raw map extents overlapping a range (for verify and dump-stream). */
  mapExtents(offset: number, length: number, visit: (e: MapExtent) => boolean | void | Promise<boolean | void>): Promise<void> {
    return this.map.forEach(offset, length, visit);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    const out = Buffer.alloc(length); // zero-filled: holes and zero fills need no work
    if (length === 0) return out;
    // Copies grouped by slab: one cache lookup per slab, however many chunks the range spans.
    const bySlab = new Map<number, number[]>(); // slab → [dest, slabStart, length, extentEnd] ...
    const end = offset + length;
    await this.map.forEach(offset, length, (e) => {
      const from = Math.max(offset, e.offset);
      const to = Math.min(end, e.offset + e.length);
      if (e.type === ExtentType.Fill) {
        if (e.fillByte !== 0) out.fill(e.fillByte, from - offset, to - offset);
      } else if (e.type === ExtentType.Data) {
        let copies = bySlab.get(e.slab);
        if (!copies) bySlab.set(e.slab, (copies = []));
        copies.push(from - offset, e.slabOffset + (from - e.offset), to - from, e.slabOffset + e.length);
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
