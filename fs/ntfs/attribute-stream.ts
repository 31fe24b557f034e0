// An attribute's value as a BlockSource: resident bytes, or non-resident clusters mapped through
// the runlist — sparse runs read as zeros without I/O (and report 'hole' extents), bytes past the
// valid data length read as zeros, and LZNT1 compression units are decompressed on demand.
// Uncompressed attributes also read zero-copy (readv): views of the volume's own buffers.
import { copyParts, pushZeroParts, readParts } from '../../src/block/parts.js';
import { checkRange, type BlockSource, type Extent } from '../../src/block/source.js';
import { corrupt } from './layout.js';
import { decompressLznt1 } from './lznt1.js';
import type { Run } from './runlist.js';

/** The parts of a (merged) attribute needed to read its value. */
export interface StreamAttribute {
  resident: boolean;
  value?: Buffer;
  runs: readonly Run[];
  dataSize: number;
  validDataSize: number;
  /** log2 clusters per compression unit; 0 = not compressed. */
  compressionUnit: number;
  compressed: boolean;
}

/** How many decompressed compression units each stream keeps (sequential reads hit them). */
const UNIT_CACHE = 4;

export class AttributeSource implements BlockSource {
  readonly size: number;
  private readonly unitCache = new Map<number, Buffer | null>();

  constructor(
    private readonly volume: BlockSource,
    private readonly clusterSize: number,
    private readonly attr: StreamAttribute,
    /** Names the attribute in errors: "MFT record 42 $DATA:stream". */
    readonly what: string,
  ) {
    this.size = attr.dataSize;
  }

  private get unitClusters(): number {
    return this.attr.compressed && this.attr.compressionUnit > 0 ? 2 ** this.attr.compressionUnit : 0;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    if (this.unitClusters && !this.attr.resident) return this.readCompressed(offset, length);
    // Not zero-filled: the parts tile the range.
    const out = Buffer.allocUnsafe(length);
    copyParts(await this.readv(offset, length), out);
    return out;
  }

  /**
   * Zero-copy read (BlockSource.readv): resident bytes and stored clusters as views (of the
   * attribute value, of the volume's cached data), sparse runs and bytes past the valid data
   * length as shared zeros. Compressed attributes decode into a buffer of their own.
   */
  async readv(offset: number, length: number): Promise<Buffer[]> {
    checkRange(this, offset, length);
    if (length === 0) return [];
    const { attr } = this;
    if (!attr.resident && this.unitClusters) return [await this.readCompressed(offset, length)];
    const end = Math.min(offset + length, attr.validDataSize);
    const pieces: Array<Buffer[] | Promise<Buffer[]>> = [];
    if (attr.resident) {
      if (end > offset) pieces.push([attr.value!.subarray(offset, end)]);
    } else {
      const cs = this.clusterSize;
      for (let pos = offset; pos < end; ) {
        const run = this.runAt(Math.floor(pos / cs));
        const n = Math.min(end, (run.vcn + run.length) * cs) - pos;
        // The runs of one read are fetched concurrently (a fragmented file needs many).
        pieces.push(run.lcn === null ? pushZeroParts([], n) : readParts(this.volume, run.lcn * cs + (pos - run.vcn * cs), n));
        pos += n;
      }
    }
    if (end < offset + length) pieces.push(pushZeroParts([], offset + length - Math.max(offset, end)));
    return (await Promise.all(pieces)).flat();
  }

  /** Bytes of a compressed attribute, compression unit by compression unit. */
  private async readCompressed(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    const end = Math.min(offset + length, this.attr.validDataSize);
    const unitBytes = this.unitClusters * this.clusterSize;
    for (let pos = offset; pos < end; ) {
      const unit = Math.floor(pos / unitBytes);
      const unitEnd = Math.min(end, (unit + 1) * unitBytes);
      const data = await this.unit(unit);
      if (data) data.copy(out, pos - offset, pos - unit * unitBytes, unitEnd - unit * unitBytes);
      pos = unitEnd;
    }
    return out;
  }

  async extents(offset: number, length: number): Promise<Extent[]> {
    const end = Math.min(this.size, offset + length);
    const out: Extent[] = [];
    const push = (o: number, l: number, kind: Extent['kind']) => {
      if (l <= 0) return;
      const last = out[out.length - 1];
      if (last && last.kind === kind && last.offset + last.length === o) last.length += l;
      else out.push({ offset: o, length: l, kind });
    };
    // Bytes past the valid data length read as zeros: stored clusters there become 'zero', holes stay holes.
    const valid = this.attr.validDataSize;
    const add = (o: number, l: number, kind: Extent['kind']) => {
      if (kind === 'data' && o + l > valid) {
        push(o, Math.max(0, valid - o), 'data');
        push(Math.max(o, valid), o + l - Math.max(o, valid), 'zero');
      } else push(o, l, kind);
    };
    if (this.attr.resident) {
      add(offset, end - offset, 'data');
    } else {
      const cs = this.clusterSize;
      const step = this.unitClusters ? this.unitClusters * cs : 0;
      for (let pos = offset; pos < end; ) {
        let next: number;
        let kind: Extent['kind'];
        if (step) {
          const unit = Math.floor(pos / step);
          next = Math.min(end, (unit + 1) * step);
          kind = this.unitRuns(unit).some((r) => r.lcn !== null) ? 'data' : 'hole';
          if (kind === 'hole') {
            // Skip whole sparse stretches at once instead of unit by unit.
            const stored = this.nextStoredVcn((unit + 1) * this.unitClusters);
            const holeEnd = stored === undefined ? end : Math.floor(stored / this.unitClusters) * step;
            next = Math.min(end, Math.max(next, holeEnd));
          }
        } else {
          const run = this.runAt(Math.floor(pos / cs));
          next = Math.min(end, (run.vcn + run.length) * cs);
          kind = run.lcn === null ? 'hole' : 'data';
        }
        add(pos, next - pos, kind);
        pos = next;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.unitCache.clear();
  }

  /** The run holding `vcn` (binary search); EFS when the runlist does not reach it. */
  private runAt(vcn: number): Run {
    const runs = this.attr.runs;
    let lo = 0;
    let hi = runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = runs[mid];
      if (vcn < r.vcn) hi = mid - 1;
      else if (vcn >= r.vcn + r.length) lo = mid + 1;
      else return r;
    }
    throw corrupt(this.what, `runlist does not map VCN ${vcn} (data size ${this.size})`);
  }

  /** First VCN at or after `vcn` that has a stored (non-sparse) cluster, if any. */
  private nextStoredVcn(vcn: number): number | undefined {
    const runs = this.attr.runs;
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid].vcn + runs[mid].length <= vcn) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < runs.length; i++) if (runs[i].lcn !== null) return Math.max(vcn, runs[i].vcn);
    return undefined;
  }

  /** Runs (clipped) covering compression unit `unit`; VCNs the runlist does not reach count as sparse. */
  private unitRuns(unit: number): Run[] {
    const first = unit * this.unitClusters;
    const last = first + this.unitClusters;
    const out: Run[] = [];
    const runs = this.attr.runs;
    // Binary search for the first run ending after `first`; then only the few runs of this unit.
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid].vcn + runs[mid].length <= first) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < runs.length && runs[i].vcn < last; i++) {
      const r = runs[i];
      const s = Math.max(first, r.vcn);
      const e = Math.min(last, r.vcn + r.length);
      if (s < e) out.push({ vcn: s, lcn: r.lcn === null ? null : r.lcn + (s - r.vcn), length: e - s });
    }
    return out;
  }

  /** Decoded bytes of one compression unit, or null when it is entirely sparse. */
  private async unit(unit: number): Promise<Buffer | null> {
    const hit = this.unitCache.get(unit);
    if (hit !== undefined) return hit;
    const cs = this.clusterSize;
    const stored = this.unitRuns(unit).filter((r) => r.lcn !== null);
    const clusters = stored.reduce((n, r) => n + r.length, 0);
    let data: Buffer | null = null;
    if (clusters > 0) {
      const raw = Buffer.concat(await Promise.all(stored.map((r) => this.volume.read(r.lcn! * cs, r.length * cs))));
      if (clusters === this.unitClusters) data = raw;
      else {
        data = Buffer.alloc(this.unitClusters * cs);
        decompressLznt1(raw, data, `${this.what} compression unit ${unit}`);
      }
    }
    if (this.unitCache.size >= UNIT_CACHE) this.unitCache.delete(this.unitCache.keys().next().value!);
    this.unitCache.set(unit, data);
    return data;
  }
}
