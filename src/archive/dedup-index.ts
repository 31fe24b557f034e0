// Finds an earlier copy of a chunk anywhere in the archive (format.md §8). In memory: an
// open-addressing table keyed by the first 8 bytes of the chunk's SHA-256 holding (slab, chunk
// index) — 14 bytes a slot, 20–40 bytes per unique chunk between load factors 0.7 and 0.35. A
// fingerprint hit is confirmed against the full hash in that slab's hash list (read on demand).
// The table is derived data: saved to index/dedup.idx after each pack, rebuilt from hash slabs.
import { LRUCache } from 'lru-cache';
import { DiskarcError } from '../errors.js';
import type { Storage } from '../storage/backend.js';
import { DEDUP_INDEX_KEY } from '../storage/keys.js';
import { hashRecord, HASH_BYTES, RecordLayout } from './layout.js';
import type { SlabStore } from './slab-store.js';

/** Slab id of an empty slot (exported for `check`, which validates a snapshot slot by slot). */
export const EMPTY_SLOT = 0xffffffff;
const EMPTY = EMPTY_SLOT;
const MAX_LOAD = 0.7;

/** format.md §8 — header of index/dedup.idx, followed by the table's four typed arrays. */
export const indexHeader = new RecordLayout('dedup index header', 32, {
  magic: { offset: 0, type: 'u32le' }, // "DDIX"
  version: { offset: 4, type: 'u32le' },
  slabsCovered: { offset: 8, type: 'u64le' },
  capacity: { offset: 16, type: 'u64le' },
  entries: { offset: 24, type: 'u64le' },
});
export const INDEX_MAGIC = 0x58494444;

export interface ChunkLocation {
  slab: number;
  chunk: number;
  /** Offset and length of the chunk inside the uncompressed slab. */
  offset: number;
  length: number;
}

export class DedupIndex {
  private fpHi!: Uint32Array;
  private fpLo!: Uint32Array;
  private slab!: Uint32Array;
  private chunk!: Uint16Array;
  private mask = 0;
  private count = 0;
  /** Slabs whose chunks are all in the table (the next slab id to load from the store). */
  slabsCovered = 0;
  /** Hash lists not yet on disk (the slabs being written by the current pack). */
  private readonly pending = new Map<number, Buffer>();
  private readonly lists: LRUCache<number, Buffer>;

  constructor(private readonly store: SlabStore, capacity = 1 << 16, hashCacheBytes = 64 * 1024 * 1024) {
    this.allocate(capacity);
    this.lists = new LRUCache<number, Buffer>({ maxSize: hashCacheBytes, sizeCalculation: (b) => Math.max(1, b.length) });
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table itself (what `info` reports as the index's memory cost). */
  get tableBytes(): number {
    return this.fpHi.byteLength + this.fpLo.byteLength + this.slab.byteLength + this.chunk.byteLength;
  }

  private allocate(capacity: number): void {
    this.fpHi = new Uint32Array(capacity);
    this.fpLo = new Uint32Array(capacity);
    this.slab = new Uint32Array(capacity).fill(EMPTY);
    this.chunk = new Uint16Array(capacity);
    this.mask = capacity - 1;
  }

  private grow(): void {
    const { fpHi, fpLo, slab, chunk } = this;
    this.allocate(slab.length * 2);
    this.count = 0;
    for (let i = 0; i < slab.length; i++) if (slab[i] !== EMPTY) this.insertRaw(fpHi[i], fpLo[i], slab[i], chunk[i]);
  }

  private insertRaw(hi: number, lo: number, slab: number, chunk: number): void {
    let i = lo & this.mask;
    while (this.slab[i] !== EMPTY) i = (i + 1) & this.mask;
    this.fpHi[i] = hi;
    this.fpLo[i] = lo;
    this.slab[i] = slab;
    this.chunk[i] = chunk;
    this.count++;
  }

  /** Records that chunk `chunk` of slab `slab` has SHA-256 `hash`. */
  insert(hash: Buffer, slab: number, chunk: number): void {
    if (this.count + 1 > this.slab.length * MAX_LOAD) this.grow();
    this.insertRaw(hash.readUInt32LE(0), hash.readUInt32LE(4), slab, chunk);
  }

  /** Registers the hash list of a slab that is being written (so its chunks dedup before it lands). */
  addPendingList(slab: number, list: Buffer): void {
    this.pending.set(slab, list);
  }

  /** The slab's list is now durable in the store; later lookups may read it from there. */
  settlePendingList(slab: number): void {
    const list = this.pending.get(slab);
    if (list) {
      this.pending.delete(slab);
      this.lists.set(slab, list);
    }
  }

  private async hashList(slab: number): Promise<Buffer> {
    const p = this.pending.get(slab) ?? this.lists.get(slab);
    if (p) return p;
    const list = await this.store.readHashes(slab);
    this.lists.set(slab, list);
    return list;
  }

  /** Synchronous lookup among lists already in memory; `undefined` if a disk read is needed. */
  lookupCached(hash: Buffer): ChunkLocation | null | undefined {
    const hi = hash.readUInt32LE(0);
    const lo = hash.readUInt32LE(4);
    let needsRead = false;
    for (let i = lo & this.mask; this.slab[i] !== EMPTY; i = (i + 1) & this.mask) {
      if (this.fpLo[i] !== lo || this.fpHi[i] !== hi) continue;
      const list = this.pending.get(this.slab[i]) ?? this.lists.get(this.slab[i]);
      if (!list) {
        needsRead = true;
        continue;
      }
      const loc = this.confirm(list, hash, this.slab[i], this.chunk[i]);
      if (loc) return loc;
    }
    return needsRead ? undefined : null;
  }

  /** Full lookup: reads hash lists from the store as needed (hashList serves cached ones first). */
  async lookup(hash: Buffer): Promise<ChunkLocation | null> {
    const hi = hash.readUInt32LE(0);
    const lo = hash.readUInt32LE(4);
    for (let i = lo & this.mask; this.slab[i] !== EMPTY; i = (i + 1) & this.mask) {
      if (this.fpLo[i] !== lo || this.fpHi[i] !== hi) continue;
      const slab = this.slab[i];
      const chunk = this.chunk[i];
      const loc = this.confirm(await this.hashList(slab), hash, slab, chunk);
      if (loc) return loc;
    }
    return null;
  }

  private confirm(list: Buffer, hash: Buffer, slab: number, chunk: number): ChunkLocation | null {
    const at = chunk * hashRecord.size;
    if (at + hashRecord.size > list.length) return null;
    if (list.compare(hash, 0, HASH_BYTES, at, at + HASH_BYTES) !== 0) return null;
    return { slab, chunk, offset: hashRecord.get(list, at, 'offset'), length: hashRecord.get(list, at, 'length') };
  }

  /** Adds every slab the store has beyond `slabsCovered` (after loading a snapshot, or from zero). */
  async catchUp(): Promise<void> {
    const total = this.store.totalSlabs;
    for (let s = this.slabsCovered; s < total; s++) {
      const list = await this.store.readHashes(s);
      for (let c = 0; c * hashRecord.size + hashRecord.size <= list.length; c++) this.insert(list.subarray(c * hashRecord.size, c * hashRecord.size + HASH_BYTES), s, c);
    }
    this.slabsCovered = Math.max(this.slabsCovered, total);
  }

  /** Loads index/dedup.idx if it is valid and not ahead of the store; false when absent or stale. */
  async load(storage: Storage): Promise<boolean> {
    let fh;
    try {
      fh = await storage.open(DEDUP_INDEX_KEY);
    } catch (e) {
      // Derived data: absent is normal, and damage of any kind means rebuilding, never failing —
      // but an environmental failure (EIO, EACCES…) is the archive's, not the index's: report it.
      if (e instanceof DiskarcError && e.code === 'ENOKEY') return false;
      throw e;
    }
    try {
      const head = Buffer.alloc(indexHeader.size);
      if ((await fh.read(head, 0)) !== head.length) return false;
      let h: ReturnType<typeof indexHeader.decode>;
      try {
        h = indexHeader.decode(head);
      } catch (e) {
        // Derived data: a header that does not even decode is rebuilt from the hash slabs.
        if (e instanceof DiskarcError && e.code === 'ECORRUPT') return false;
        throw e;
      }
      const cap = h.capacity;
      if (h.magic !== INDEX_MAGIC || h.version !== 1 || cap < 2 || (cap & (cap - 1)) !== 0 || h.slabsCovered > this.store.totalSlabs) return false;
      if ((await fh.size()) !== indexHeader.size + cap * 14) return false;
      this.allocate(cap);
      let pos = indexHeader.size;
      // Read straight into the table's arrays: no copy of a table that may be hundreds of MiB.
      for (const arr of [this.fpHi, this.fpLo, this.slab, this.chunk]) {
        const view = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
        if ((await fh.read(view, pos)) !== view.length) return false;
        pos += view.length;
      }
      this.count = h.entries;
      this.slabsCovered = h.slabsCovered;
      return true;
    } finally {
      await fh.close();
    }
  }

  /** Writes the snapshot, replacing the last one atomically (it is derived data: a torn one is just ignored). */
  async save(storage: Storage): Promise<void> {
    const head = indexHeader.encode({ magic: INDEX_MAGIC, version: 1, slabsCovered: this.slabsCovered, capacity: this.slab.length, entries: this.count });
    const views = [head, ...[this.fpHi, this.fpLo, this.slab, this.chunk].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength))];
    await storage.put(DEDUP_INDEX_KEY, views, { replace: true });
  }
}
