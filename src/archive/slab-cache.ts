// Decompressed data slabs, kept in an LRU with a byte budget and shared by every reader of an
// archive. Concurrent reads of the same slab share one read + decompression (single flight);
// decompression runs on the ZstdPool's worker threads, off the event loop.
import { LRUCache } from 'lru-cache';
import { DiskarcError } from '../errors.js';
import { SLAB_FLAG_ZSTD } from './layout.js';
import type { SlabStore } from './slab-store.js';
import type { ZstdPool } from './zstd-pool.js';

export interface SlabCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  budget: number;
}

export class SlabCache {
  private readonly lru: LRUCache<number, Buffer>;
  private readonly loading = new Map<number, Promise<Buffer>>();
  private hits = 0;
  private misses = 0;
  /** Loads running now; more wait in `queue`, so decompressed slabs outside the LRU stay bounded. */
  private running = 0;
  private readonly queue: Array<() => void> = [];
  private readonly maxLoads: number;

  constructor(private readonly store: SlabStore, private readonly pool: ZstdPool, readonly budget: number) {
    this.maxLoads = pool.size * 2;
    this.lru = new LRUCache<number, Buffer>({ maxSize: Math.max(1, budget), sizeCalculation: (b) => Math.max(1, b.length) });
  }

  get stats(): SlabCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.lru.calculatedSize ?? 0, budget: this.budget };
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
    p = this.load(slab).finally(() => this.loading.delete(slab));
    this.loading.set(slab, p);
    return p;
  }

  private async load(slab: number): Promise<Buffer> {
    if (this.running >= this.maxLoads) await new Promise<void>((r) => this.queue.push(r));
    this.running++;
    try {
      return await this.loadNow(slab);
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  private async loadNow(slab: number): Promise<Buffer> {
    const rec = await this.store.readData(slab);
    let data = rec.payload;
    if (rec.flags & SLAB_FLAG_ZSTD) {
      try {
        data = await this.pool.decompress(rec.payload);
      } catch (e) {
        throw new DiskarcError('ECORRUPT', `data slab ${slab} does not decompress: ${(e as Error).message}`, { slab }, { cause: e });
      }
    }
    if (data.length !== rec.length) {
      throw new DiskarcError('ECORRUPT', `data slab ${slab} decompressed to ${data.length} bytes, header says ${rec.length}`, { slab });
    }
    // A slab larger than the whole budget is still returned, just not kept.
    if (data.length <= this.budget) this.lru.set(slab, data);
    return data;
  }
}
