// Decompressed data slabs, kept in an LRU with a byte budget and shared by every reader of an
// archive. Concurrent reads of the same slab share one load (single flight). A streaming reader
// borrows slabs instead (borrow): what the cache holds is shared, a miss is decoded into a pooled
// buffer that is not cached and is reused once every lease is released. Loading — records,
// checksums, size caps, native decode jobs — is the SlabLoader's; this module only caches.
import { LRUCache } from 'lru-cache';
import { native } from '../../native/index.js';
import { SlabBufferPool } from './slab-buffer-pool.js';
import { SlabLoader } from './slab-loader.js';

/**
 * Allocations at least this large are mmapped: every slab of the default size (256 KiB, sealed
 * at no less than 224 KiB) is its own mapping, returned whole when freed, never a block of malloc's
 * heap between short-lived buffers. Per-request buffers stay below it — above all libfuse 2's
 * 128 KiB buffer for every FUSE read: at a 128 KiB threshold each was a fresh mapping, faulted in
 * page by page and unmapped again (measured: 313k page faults and ≈ 2.5 CPU-seconds per 2 GiB
 * read through a mount, 276 → 341 MB/s cold).
 */
const MMAP_THRESHOLD = 192 * 1024;

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
  private readonly transient = new Map<number, TransientSlab>();
  private readonly pool = new SlabBufferPool(POOL_KEEP_BYTES);

  /**
   * @param loader loads the slabs this cache misses (it bounds how many run at once). Borrowed
   *   slabs are decoded into buffers of its slab size by the job that reads them (see borrow).
   */
  constructor(private readonly loader: SlabLoader, readonly budget: number) {
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

  /** SlabLoader.decodeBehindRequests, kept here for the servers that call it. */
  static decodeBehindRequests(nice?: number): void {
    SlabLoader.decodeBehindRequests(nice);
  }

  get stats(): SlabCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.lru.calculatedSize ?? 0, budget: this.budget, lent: this.transient.size, pooled: this.pool.bytesIdle, singleJobLoads: this.loader.singleJobLoads };
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
    p = this.loader.load(slab, fresh)
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
      const t: TransientSlab = { leases: 0, promise: this.loader.load(slab, (n) => this.pool.take(n), this.loader.slabBytes) };
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
}
