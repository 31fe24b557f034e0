// Packs new chunks into slabs: fills a slab buffer and its hash list, then compresses full slabs
// on the ZstdPool while the next one fills, appending them to the SlabStore strictly in id order.
// Slab buffers (input and compressed output, shared with the workers) are recycled once their
// slab is written, and about `maxInFlight` slabs are in flight: that bounds pack's memory.
import { DiskarcError } from '../errors.js';
import { HASH_BYTES, hashRecord, SLAB_FLAG_ZSTD } from './layout.js';
import type { CompressionConfig } from './config.js';
import type { DedupIndex, ChunkLocation } from './dedup-index.js';
import type { SlabStoreWriter } from './slab-store.js';
import { compressBound, sharedBuffer, type ZstdPool } from './zstd-pool.js';

/** Slabs that compress to more than this fraction of their size are stored raw (cheaper to read). */
const STORE_RAW_ABOVE = 0.97;

export interface WriteStats {
  dataWritten: number;
  hashesWritten: number;
  slabsWritten: number;
  newChunks: number;
  newBytes: number;
}

/** One slab's memory: the uncompressed bytes and the compressed frame (both shared). */
interface SlabBuffers {
  data: Buffer;
  packed: Buffer | undefined;
}

export class ChunkWriter {
  private slabBuffers: SlabBuffers;
  private buf: Buffer;
  /** Slab buffers whose slab is written, ready for reuse. */
  private readonly free: SlabBuffers[] = [];
  private used = 0;
  private list: Buffer;
  private chunks = 0;
  private slabId: number;
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  private failure: unknown;
  readonly stats: WriteStats = { dataWritten: 0, hashesWritten: 0, slabsWritten: 0, newChunks: 0, newBytes: 0 };

  constructor(
    private readonly store: SlabStoreWriter,
    private readonly pool: ZstdPool,
    private readonly dedup: DedupIndex,
    private readonly slabSize: number,
    private readonly maxChunk: number,
    private readonly compression: CompressionConfig,
    // Slabs being compressed or written at once: at least four per worker, and at least 8 MiB,
    // so small slabs keep as much work queued for the workers as large ones (measured: with
    // 256 KiB slabs, four per worker left pack 13 % slower than with 1 MiB slabs).
    private readonly maxInFlight = Math.max(pool.size * 4, Math.ceil((8 * 1024 * 1024) / slabSize)),
  ) {
    this.slabId = store.nextSlabId;
    this.slabBuffers = this.takeBuffers();
    this.buf = this.slabBuffers.data;
    this.list = Buffer.allocUnsafeSlow((slabSize / (maxChunk / 32)) * hashRecord.size + hashRecord.size);
  }

  private takeBuffers(): SlabBuffers {
    return this.free.pop() ?? {
      data: sharedBuffer(this.slabSize),
      packed: this.compression.algorithm === 'zstd' ? sharedBuffer(compressBound(this.slabSize)) : undefined,
    };
  }

  /** Adds a new chunk; returns where it now lives. Call `drain()` regularly to apply backpressure. */
  add(data: Buffer, hash: Buffer): ChunkLocation {
    if (this.used + data.length > this.slabSize || (this.chunks + 1) * hashRecord.size > this.list.length) this.seal();
    const loc = { slab: this.slabId, chunk: this.chunks, offset: this.used, length: data.length };
    data.copy(this.buf, this.used);
    const at = this.chunks * hashRecord.size;
    hash.copy(this.list, at, 0, HASH_BYTES);
    hashRecord.encode({ offset: this.used, length: data.length }, this.list, at);
    this.used += data.length;
    this.chunks++;
    if (this.chunks === 1) this.dedup.addPendingList(this.slabId, this.list);
    this.dedup.insert(hash, loc.slab, loc.chunk);
    this.stats.newChunks++;
    this.stats.newBytes += data.length;
    return loc;
  }

  /** Waits while too many slabs are compressing or queued for writing. */
  async drain(): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inFlight >= this.maxInFlight) {
      await new Promise<void>((r) => this.waiters.push(r));
      if (this.failure) throw this.failure;
    }
  }

  private seal(): void {
    if (this.chunks === 0) return;
    const id = this.slabId;
    const slab = this.slabBuffers;
    const data = slab.data.subarray(0, this.used);
    // The list is kept (dedup's cache of hash lists): an exact-size copy, the buffer is reused.
    const list = Buffer.from(this.list.subarray(0, this.chunks * hashRecord.size));
    this.dedup.addPendingList(id, list);
    this.slabId++;
    this.slabBuffers = this.takeBuffers();
    this.buf = this.slabBuffers.data;
    this.used = 0;
    this.chunks = 0;
    this.inFlight++;
    const compressed = slab.packed
      ? this.pool.compressInto(data, slab.packed, this.compression.level).then((n) => slab.packed!.subarray(0, n))
      : Promise.resolve(data);
    compressed.catch(() => undefined); // failure is reported through the ordered tail below
    this.tail = this.tail.then(async () => {
      if (this.failure) return;
      try {
        const c = await compressed;
        const raw = !slab.packed || c.length > data.length * STORE_RAW_ABOVE;
        const w = await this.store.append(raw ? 0 : SLAB_FLAG_ZSTD, raw ? data : c, data.length, list);
        this.stats.dataWritten += w.dataBytes;
        this.stats.hashesWritten += w.hashBytes;
        this.stats.slabsWritten++;
        this.dedup.settlePendingList(id);
        // Written: its memory is free again (not after a failure: a worker may still hold it).
        if (this.free.length < this.maxInFlight) this.free.push(slab);
      } catch (e) {
        this.failure ??= e;
      } finally {
        this.inFlight--;
        this.waiters.splice(0).forEach((r) => r());
      }
    });
  }

  /** Stops after the slab being written (pack failed or was interrupted); never throws. */
  async abandon(): Promise<void> {
    this.failure ??= new DiskarcError('EINTR', 'the pack was abandoned');
    await this.tail;
  }

  /** Seals the partial slab and waits until every slab is appended (not yet synced). */
  async finish(): Promise<void> {
    this.seal();
    await this.tail;
    if (this.failure) throw this.failure;
  }
}
