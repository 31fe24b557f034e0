// Decompressed data slabs, kept in an LRU with a byte budget and shared by every reader of an
// archive. Concurrent reads of the same slab share one read + decompression (single flight);
// decompression runs in the native addon on libuv's thread pool, off the event loop, into buffers
// allocated on the JS thread (no worker isolates or message copies on the read path).
// A streaming reader borrows slabs instead (borrow): what the cache holds is shared, a miss is
// decoded into a pooled buffer that is not cached and is reused once every lease is released.
import { LRUCache } from 'lru-cache';
import { crc32 } from 'node:zlib';
import { DiskarcError } from '../errors.js';
import { SLAB_FLAG_ZSTD } from './layout.js';
import type { SlabStore } from './slab-store.js';
import { native, zstdDecompressTo } from '../../native/index.js';
import { SlabBufferPool } from './slab-buffer-pool.js';

/** Largest slab a valid archive holds: the 64 MiB slabSize limit plus its last (largest) chunk, rounded up. */
const MAX_SLAB_BYTES = 128 * 1024 * 1024;

/**
 * Allocations at least this large are mmapped: every slab of the default size (256 KiB, sealed
 * at no less than 224 KiB) is its own mapping, returned whole when freed, never a block of malloc's
 * heap between short-lived buffers. Per-request buffers stay below it — above all libfuse 2's
 * 128 KiB buffer for every FUSE read: at a 128 KiB threshold each was a fresh mapping, faulted in
 * page by page and unmapped again (measured: 313k page faults and ≈ 2.5 CPU-seconds per 2 GiB
 * read through a mount, 276 → 341 MB/s cold).
 */
const MMAP_THRESHOLD = 192 * 1024;

/** Nice value of decoding pool threads in servers (decodeBehindRequests). */
const DECODE_NICE = 10;

/**
 * Scratch buffer per running load: any record of a slab of the archive's size fits (a slab stored
 * uncompressed is its size plus a header), so loads never read into fresh memory or skip the
 * one-job path (readSlabDecoding needs the whole record in scratch).
 */
const MIN_SCRATCH_BYTES = 512 * 1024;
const RECORD_SLACK = 64 * 1024;

/** Idle bytes the pool of borrowed-slab buffers keeps for reuse. */
const POOL_KEEP_BYTES = 32 * 1024 * 1024;

/**
 * A slab lent to one reader: `data` stays valid until release() — then, when it was decoded
 * for the borrowers alone, its memory is reused for another slab. release() is idempotent.
 */
export interface SlabLease {
  readonly data: Buffer;
  release(): void;
}

/** A slab decoded for borrowers only: shared by overlapping borrows, pooled again when the last ends. */
interface TransientSlab {
  leases: number;
  data?: Buffer;
  promise: Promise<Buffer>;
}

const sharedLease = (data: Buffer): SlabLease => ({ data, release: () => {} });
const fresh = (length: number) => Buffer.allocUnsafeSlow(length);

export interface SlabCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  budget: number;
  /** Slabs decoded for borrowers and not yet released by all of them. */
  lent: number;
  /** Idle bytes of the borrowed-slab buffer pool. */
  pooled: number;
  /** Borrowed slabs whose record read and decode ran as one pool job (the rest took two). */
  singleJobLoads: number;
}

export class SlabCache {
  private readonly lru: LRUCache<number, Buffer>;
  private readonly loading = new Map<number, Promise<Buffer>>();
  private hits = 0;
  private misses = 0;
  private singleJobLoads = 0;
  /** Loads running now; more wait in `queue`, so decompressed slabs outside the LRU stay bounded. */
  private running = 0;
  private readonly queue: Array<() => void> = [];
  /** Read buffers for compressed records, reused by successive loads. */
  private readonly scratch: Buffer[] = [];
  private readonly transient = new Map<number, TransientSlab>();
  private readonly pool = new SlabBufferPool(POOL_KEEP_BYTES);

  private readonly maxLoads: number;
  private readonly slabBytes: number | undefined;

  /**
   * @param opts.maxLoads slabs read and decompressed at once (default 8). A load is one or two
   *   jobs on libuv's pool (4 threads by default), with hops through the event loop between, so
   *   twice the pool's threads keeps it fed while the loop is busy serving reads. Measured on a
   *   cold FUSE `dd` of the corpus image: at 4, 11 % of reads waited for their readahead chunk;
   *   at 8, 0.1 %, and the pass ran ≈ 8 % faster.
   * @param opts.slabBytes the archive's slab size (no slab is larger): borrowed slabs are decoded
   *   into buffers of this size by the same pool job that reads them (see borrow).
   */
  constructor(private readonly store: SlabStore, readonly budget: number, opts: { maxLoads?: number; slabBytes?: number } = {}) {
    this.maxLoads = opts.maxLoads ?? 8;
    this.slabBytes = opts.slabBytes;
    this.lru = new LRUCache<number, Buffer>({ maxSize: Math.max(1, budget), sizeCalculation: (b) => Math.max(1, b.length) });
  }

  /**
   * For long-running readers (serve, mount), whose caches evict slabs for hours: fixes glibc's mmap
   * threshold so each slab is its own mapping, returned to the kernel when freed. Otherwise the
   * threshold rises past the slab size after the first free, and evicted slabs stay in malloc's
   * heap as RSS (measured: a serve with half its data cached held 45 MiB more). Process-wide, so
   * not done for pack, where fresh mappings per slab cost ≈ 8 % of its speed.
   */
  static releaseEvictedMemoryPromptly(): void {
    native.mallocTuning(MMAP_THRESHOLD);
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

  get stats(): SlabCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.lru.calculatedSize ?? 0, budget: this.budget, lent: this.transient.size, pooled: this.pool.bytesIdle, singleJobLoads: this.singleJobLoads };
  }

  /** The decompressed bytes of data slab `slab`. Callers must not modify the buffer. */
  get(slab: number): Promise<Buffer> {
    const cached = this.lru.get(slab);
    if (cached) {
      this.hits++;
      return Promise.resolve(cached);
    }
    let p = this.loading.get(slab);
    if (p) {
      this.hits++;
      return p;
    }
    this.misses++;
    p = this.load(slab, fresh)
      .then((data) => {
        // A slab larger than the whole budget is still returned, just not kept.
        if (data.length <= this.budget) this.lru.set(slab, data);
        return data;
      })
      .finally(() => this.loading.delete(slab));
    this.loading.set(slab, p);
    return p;
  }

  /**
   * Slab `slab` for a streaming reader, which releases it once its bytes are copied or sent.
   * A cached (or loading) slab is shared; a miss is decoded into a pooled buffer and not cached,
   * so one pass over a large stream neither evicts what random readers use nor grows memory
   * (fresh memory per slab costs page faults and V8 collections: ≈ 20 % of a cold FUSE read).
   */
  borrow(slab: number): Promise<SlabLease> {
    const cached = this.lru.get(slab);
    if (cached) {
      this.hits++;
      return Promise.resolve(sharedLease(cached));
    }
    const loading = this.loading.get(slab);
    if (loading) {
      this.hits++;
      return loading.then(sharedLease);
    }
    let entry = this.transient.get(slab);
    if (entry) this.hits++;
    else {
      this.misses++;
      const t: TransientSlab = { leases: 0, promise: this.load(slab, (n) => this.pool.take(n), this.slabBytes) };
      t.promise.then(
        (data) => (t.data = data),
        () => this.endTransient(slab, t),
      );
      this.transient.set(slab, t);
      entry = t;
    }
    const t = entry;
    t.leases++;
    return t.promise.then(
      (data) => {
        let released = false;
        return {
          data,
          release: () => {
            if (released) return;
            released = true;
            if (--t.leases === 0) this.endTransient(slab, t);
          },
        };
      },
      (e) => {
        t.leases--;
        throw e;
      },
    );
  }

  private endTransient(slab: number, t: TransientSlab): void {
    if (this.transient.get(slab) === t) this.transient.delete(slab);
    if (t.data) this.pool.give(t.data);
    t.data = undefined;
  }

  /** `oneTrip`: decode in the job that reads the record, into a buffer of this many bytes from `allocate`. */
  private async load(slab: number, allocate: (length: number) => Buffer, oneTrip?: number): Promise<Buffer> {
    if (this.running >= this.maxLoads) await new Promise<void>((r) => this.queue.push(r));
    this.running++;
    try {
      return await this.loadNow(slab, allocate, oneTrip);
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  private async loadNow(slab: number, allocate: (length: number) => Buffer, oneTrip?: number): Promise<Buffer> {
    // Compressed records are read into a reused scratch buffer (one per running load): they live
    // only until decompressed, and fresh ones per slab were garbage piling up between collections.
    const scratch = this.scratch.pop() ?? Buffer.allocUnsafeSlow(Math.max(MIN_SCRATCH_BYTES, (this.slabBytes ?? 0) + RECORD_SLACK));
    try {
      return await this.decode(slab, scratch, allocate, oneTrip);
    } finally {
      this.scratch.push(scratch);
    }
  }

  /** Reads and decodes slab `slab` into a buffer from `allocate` (called with its checked length). */
  private async decode(slab: number, scratch: Buffer, allocate: (length: number) => Buffer, oneTrip?: number): Promise<Buffer> {
    // One pool job reads and decodes (each hop through the event loop costs the thread serving
    // requests a promise chain: a third of its time in a cold sequential pass). Anything unusual
    // — the file's last slab, a frame that does not fit or decode — takes the general path below,
    // which reports it.
    let fast: Awaited<ReturnType<SlabStore['readDataDecoding']>>;
    if (oneTrip !== undefined) {
      const dst = allocate(oneTrip);
      fast = await this.store.readDataDecoding(slab, scratch, dst);
      if (fast && fast.record.flags & SLAB_FLAG_ZSTD && fast.decoded === fast.record.length) {
        this.singleJobLoads++;
        return dst.subarray(0, fast.decoded);
      }
      const other = allocate;
      allocate = (n) => (n <= dst.length ? dst.subarray(0, n) : other(n));
    }
    // A compressed slab's checksum is checked by the decompressing thread, not here.
    const rec = fast?.record ?? (await this.store.readData(slab, 'defer', scratch));
    let data: Buffer;
    if (rec.flags & SLAB_FLAG_ZSTD) {
      // The output is allocated from the header's length before decoding: never trust it blindly.
      if (rec.length > MAX_SLAB_BYTES) throw new DiskarcError('ECORRUPT', `data slab ${slab} claims ${rec.length} bytes, more than any slab holds`, { slab });
      try {
        // Every byte is written (a short frame is an error), so the buffer needs no zero-fill.
        data = await zstdDecompressTo(rec.payload, allocate(rec.length), rec.payloadCrc);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ECHECKSUM') throw await this.store.dataChecksumError(slab);
        throw new DiskarcError('ECORRUPT', `data slab ${slab} does not decompress: ${(e as Error).message}`, { slab }, { cause: e });
      }
    } else {
      // Read by the one-job path, its CRC-32 was taken on the pool thread and checked already.
      if (!fast && crc32(rec.payload) !== rec.payloadCrc) throw await this.store.dataChecksumError(slab);
      if (rec.payload.length !== rec.length) {
        throw new DiskarcError('ECORRUPT', `data slab ${slab} holds ${rec.payload.length} bytes, header says ${rec.length}`, { slab });
      }
      // Stored uncompressed, the payload is the slab: copied out of the (reused) read buffer.
      data = allocate(rec.length);
      rec.payload.copy(data);
    }
    return data;
  }
}
