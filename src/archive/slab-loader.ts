// Turns "data slab N" into its decompressed bytes: finds its record (SlabStore), reads it into a
// reused scratch buffer, checks header, CRC-32 and size caps, and decodes it — in one native pool
// job where it can (readRecordDecoding), else a read then zstdDecompressTo. Bounds how many loads
// run at once. The one place slab damage is turned into errors; SlabCache above it only caches.
import { crc32 } from 'node:zlib';
import { DiskarcError } from '../errors.js';
import { native, zstdDecompressTo } from '../../native/index.js';
import { slabHeader, SLAB_FLAG_ZSTD } from './layout.js';
import { checksumError, decodeSlabHeader, type SlabFileReader, type SlabRecord } from './slab-file.js';
import type { SlabStore } from './slab-store.js';

/** Largest slab a valid archive holds: the 64 MiB slabSize limit plus its last (largest) chunk, rounded up. */
const MAX_SLAB_BYTES = 128 * 1024 * 1024;

/** Nice value of decoding pool threads in servers (decodeBehindRequests). */
const DECODE_NICE = 10;

/**
 * Scratch buffer per running load: any record of a slab of the archive's size fits (a slab stored
 * uncompressed is its size plus a header), so loads never read into fresh memory or skip the
 * one-job path (it needs the whole record in scratch).
 */
const MIN_SCRATCH_BYTES = 512 * 1024;
const RECORD_SLACK = 64 * 1024;

/** Where a load's output goes: called once with the slab's checked length. */
export type SlabAllocator = (length: number) => Buffer;

export interface SlabLoaderOptions {
  /**
   * Slabs read and decompressed at once (default 8). A load is one or two jobs on libuv's pool
   * (4 threads by default), with hops through the event loop between, so twice the pool's threads
   * keeps it fed while the loop is busy serving reads. Measured on a cold FUSE `dd` of the corpus
   * image: at 4, 11 % of reads waited for their readahead chunk; at 8, 0.1 %, and ≈ 8 % faster.
   */
  maxLoads?: number;
  /** The archive's slab size (no slab is larger): sizes scratch buffers and one-job outputs. */
  slabBytes?: number;
}

export class SlabLoader {
  /** Loads running now; more wait in `queue`, so decoded slabs outside any cache stay bounded. */
  private running = 0;
  private readonly queue: Array<() => void> = [];
  /** Read buffers for compressed records, reused by successive loads. */
  private readonly scratch: Buffer[] = [];
  private readonly maxLoads: number;
  readonly slabBytes: number | undefined;
  /** Loads whose record read and decode ran as one pool job (the rest took two). */
  singleJobLoads = 0;

  constructor(private readonly store: SlabStore, opts: SlabLoaderOptions = {}) {
    this.maxLoads = opts.maxLoads ?? 8;
    this.slabBytes = opts.slabBytes;
  }

  /**
   * For servers (serve, mount): slab reads and decodes on libuv's pool run at nice `nice`, so the
   * threads answering requests (the event loop, libfuse's) get a core the moment they wake
   * rather than queueing behind a decode — on two cores a cold sequential FUSE read left ≈ 12 %
   * of the CPU idle in those hand-offs. Decodes still get every cycle nothing else wants.
   */
  static decodeBehindRequests(nice = DECODE_NICE): void {
    native.setDecodeNice(nice);
  }

  /**
   * The decompressed bytes of data slab `slab`, in a buffer from `allocate`. `oneTrip`: read and
   * decode in one pool job, into an `allocate(oneTrip)` buffer (the archive's slab size), for
   * streaming readers whose buffers are pooled; a record that path cannot vouch for is read again.
   */
  async load(slab: number, allocate: SlabAllocator, oneTrip?: number): Promise<Buffer> {
    if (this.running >= this.maxLoads) await new Promise<void>((r) => this.queue.push(r));
    this.running++;
    // Compressed records are read into a reused scratch buffer (one per running load): they live
    // only until decompressed, and fresh ones per slab were garbage piling up between collections.
    const scratch = this.scratch.pop() ?? Buffer.allocUnsafeSlow(Math.max(MIN_SCRATCH_BYTES, (this.slabBytes ?? 0) + RECORD_SLACK));
    try {
      return await this.decode(slab, scratch, allocate, oneTrip);
    } finally {
      this.scratch.push(scratch);
      this.running--;
      this.queue.shift()?.();
    }
  }

  private async decode(slab: number, scratch: Buffer, allocate: SlabAllocator, oneTrip?: number): Promise<Buffer> {
    const { file, index } = await this.store.locateData(slab);
    // One pool job reads and decodes (each hop through the event loop costs the thread serving
    // requests a promise chain: a third of its time in a cold sequential pass). Anything unusual
    // — the file's last slab, a frame that does not fit or decode — takes the general path below,
    // which reports it.
    let fast: { record: SlabRecord; decoded: number } | undefined;
    if (oneTrip !== undefined) {
      const dst = allocate(oneTrip);
      fast = await readRecordDecoding(file, index, scratch, dst);
      if (fast && fast.record.flags & SLAB_FLAG_ZSTD && fast.decoded === fast.record.length) {
        this.singleJobLoads++;
        return dst.subarray(0, fast.decoded);
      }
      const other = allocate;
      allocate = (n) => (n <= dst.length ? dst.subarray(0, n) : other(n));
    }
    // A compressed slab's checksum is checked by the decompressing thread, not here.
    const rec = fast?.record ?? (await file.readSlab(index, 'defer', scratch));
    const damaged = () => checksumError(file.path, `slab ${index}`, file.offsetOf(index) ?? 0);
    if (rec.flags & SLAB_FLAG_ZSTD) {
      // The output is allocated from the header's length before decoding: never trust it blindly.
      if (rec.length > MAX_SLAB_BYTES) throw new DiskarcError('ECORRUPT', `data slab ${slab} claims ${rec.length} bytes, more than any slab holds`, { slab });
      try {
        // Every byte is written (a short frame is an error), so the buffer needs no zero-fill.
        return await zstdDecompressTo(rec.payload, allocate(rec.length), rec.payloadCrc);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ECHECKSUM') throw damaged();
        throw new DiskarcError('ECORRUPT', `data slab ${slab} does not decompress: ${(e as Error).message}`, { slab }, { cause: e });
      }
    }
    // Read by the one-job path, its CRC-32 was taken on the pool thread and checked already.
    if (!fast && crc32(rec.payload) !== rec.payloadCrc) throw damaged();
    if (rec.payload.length !== rec.length) {
      throw new DiskarcError('ECORRUPT', `data slab ${slab} holds ${rec.payload.length} bytes, header says ${rec.length}`, { slab });
    }
    // Stored uncompressed, the payload is the slab: copied out of the (reused) read buffer.
    const data = allocate(rec.length);
    rec.payload.copy(data);
    return data;
  }
}

/**
 * Reads record `index` of `file` into `scratch` and, when its payload is a zstd frame that fits
 * `dst`, decodes it there — one pool job on the file's lent descriptor (`decoded`: the frame's
 * size, or a RECORD_* code when it was not decoded). Only the header is checked here, on the JS
 * thread, where its layout lives. Undefined when this path cannot vouch for the record — no next
 * slab to give its span, larger than `scratch`, short, a header that does not match the span, or
 * a backend with no descriptor to lend — and readSlab then reads it again and names the damage.
 * A payload failing its CRC-32 is ECORRUPT here too.
 */
async function readRecordDecoding(file: SlabFileReader, index: number, scratch: Buffer, dst: Buffer): Promise<{ record: SlabRecord; decoded: number } | undefined> {
  const extent = file.extentOf(index);
  if (extent?.span === undefined) return undefined;
  const { at, span } = extent;
  if (span <= slabHeader.size || span > scratch.length) return undefined;
  const job = file.withDescriptor((fd) => native.readRecordDecoding(fd, at, span, scratch, slabHeader.size, dst));
  if (!job) return undefined;
  const [got, crc, decoded] = await job;
  const h = decodeSlabHeader(scratch.subarray(0, got));
  if (!h || got !== span || slabHeader.size + h.storedLength !== span) return undefined;
  if (crc !== h.payloadCrc) throw checksumError(file.path, `slab ${index}`, at);
  return { record: { flags: h.flags, payload: scratch.subarray(slabHeader.size, span), length: h.length, payloadCrc: h.payloadCrc }, decoded };
}
