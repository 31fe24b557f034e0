// The archive's slab files as one sequence of numbered slabs (format.md §2): data file N and
// hashes file N hold the same slabs, so slab id → (file pair, index) is a prefix-sum lookup.
// Files roll over past the configured size limit; a writer cuts any torn tail before appending
// and can roll everything it appended back (format.md §7).
import { DiskarcError } from '../errors.js';
import type { Storage } from '../storage/backend.js';
import { DATA_PREFIX, parseSlabFileKey, slabFileKey } from '../storage/keys.js';
import { FileContent, fileHeader } from './layout.js';
import { committedSlabs, cutSlabFile, SlabFileReader, SlabFileWriter, type SlabFileExtent } from './slab-file.js';

interface FilePair {
  number: number;
  data: SlabFileReader;
  hashes: SlabFileReader;
  /** Id of the pair's first slab. */
  first: number;
  /** Usable slabs: those present in both files. */
  count: number;
}

export class SlabStore {
  private pairs: FilePair[] = [];

  /** `dir`: where the archive is, for messages. */
  private constructor(readonly storage: Storage, readonly dir: string) {}

  static async open(storage: Storage, dir = storage.where('.')): Promise<SlabStore> {
    const store = new SlabStore(storage, dir);
    await store.refresh();
    return store;
  }

  get totalSlabs(): number {
    const last = this.pairs[this.pairs.length - 1];
    return last ? last.first + last.count : 0;
  }

  get fileNumbers(): number[] {
    return this.pairs.map((p) => p.number);
  }

  private refreshing: Promise<void> | undefined;
  /** When the last refresh began (ms since the epoch): it saw every slab synced before then. */
  refreshedAt = 0;

  /** Re-reads offsets and discovers new files (a pack may have appended since open). Concurrent
   * callers (many reads missing at once) share one refresh. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const began = Date.now();
    const numbers: number[] = [];
    for (const info of await this.storage.list(DATA_PREFIX)) {
      const slabFile = parseSlabFileKey(info.key);
      if (slabFile?.kind !== 'data') continue;
      // A file listed before its header is durable is being created by a writer: not yet a slab
      // file, and the newest one (writers never create one behind another).
      if (info.size < fileHeader.size && !info.sealed) break;
      numbers.push(slabFile.number);
    }
    // Only the newest pair seen last time can have grown; older ones were finished (writers
    // never go back to a file once they roll over).
    const growing = Math.max(0, this.pairs.length - 1);
    let first = 0;
    for (let i = 0; i < numbers.length; i++) {
      let pair = this.pairs[i];
      if (!pair) {
        const data = await SlabFileReader.open(this.storage, slabFileKey('data', numbers[i]), FileContent.Data);
        const hashes = await SlabFileReader.open(this.storage, slabFileKey('hashes', numbers[i]), FileContent.Hashes);
        pair = { number: numbers[i], data, hashes, first, count: 0 };
        this.pairs.push(pair);
      } else if (i >= growing) {
        await pair.data.refresh();
        await pair.hashes.refresh();
      }
      pair.first = first;
      pair.count = Math.min(pair.data.count, pair.hashes.count);
      first += pair.count;
    }
    this.refreshedAt = began;
  }

  /** The data file holding slab `slab` and its index there; ECORRUPT for a slab the archive lacks. */
  async locateData(slab: number): Promise<{ file: SlabFileReader; index: number }> {
    const { pair, index } = await this.locate(slab);
    return { file: pair.data, index };
  }

  private async locate(slab: number): Promise<{ pair: FilePair; index: number }> {
    if (!Number.isSafeInteger(slab) || slab < 0) throw new DiskarcError('ECORRUPT', `invalid slab id ${slab}`, { slab });
    if (slab >= this.totalSlabs) await this.refresh();
    // Few files: a linear scan from the end is as fast as a binary search.
    for (let i = this.pairs.length - 1; i >= 0; i--) {
      const p = this.pairs[i];
      if (slab >= p.first) {
        if (slab < p.first + p.count) return { pair: p, index: slab - p.first };
        break;
      }
    }
    throw new DiskarcError('ECORRUPT', `${this.dir}: slab ${slab} is referenced but not in the archive (${this.totalSlabs} slabs)`, { archive: this.dir, slab });
  }

  /** The hash list of a slab: hashRecord entries, one per chunk (stored uncompressed). */
  async readHashes(slab: number): Promise<Buffer> {
    const { pair, index } = await this.locate(slab);
    return (await pair.hashes.readSlab(index)).payload;
  }

  /** Which data file holds a slab (for error messages and `dump-stream`). */
  async dataPath(slab: number): Promise<string> {
    return (await this.locate(slab)).pair.data.path;
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      await p.data.close();
      await p.hashes.close();
    }
    this.pairs = [];
  }
}

/** What a rollback did with the slabs the writer had appended. */
export interface RollbackResult {
  /** Bytes cut from the newest file pair (0 when nothing had been written). */
  bytesRemoved: number;
  /** Bytes of slabs left in files the writer had filled and rolled over from: a file another
   * follows is never changed (readers rely on it), so those stay, intact, indexed and found by
   * dedup, unreferenced until a later stream reuses them. */
  bytesKept: number;
}

/**
 * Appends slabs (data + hash list) to the newest file pair, rolling over at the size limit.
 * On open it cuts the newest pair back to the slabs both of its files hold intact (whatever a
 * crash or a full disk left after them was never referenced); `rollback()` cuts the newest pair
 * back to where this writer found it (or to its bare header if it made it), for a pack that does
 * not commit.
 */
export class SlabStoreWriter {
  private data!: SlabFileWriter;
  private hashes!: SlabFileWriter;
  private fileNumber = 0;
  private nextId: number;
  /** The current pair's files (keys), with their extents before this writer's first append. */
  private readonly started = new Map<string, SlabFileExtent>();
  /** Bytes appended to pairs since rolled over from (kept by a rollback). */
  private bytesKept = 0;
  /** The current pair was sealed by finish() (object stores): the next append starts a new one. */
  private sealed = false;

  private constructor(private readonly storage: Storage, private readonly fileLimit: number, firstId: number) {
    this.nextId = firstId;
  }

  static async open(store: SlabStore, fileLimit: number): Promise<SlabStoreWriter> {
    await store.refresh();
    const storage = store.storage;
    const numbers = store.fileNumbers;
    const last = numbers[numbers.length - 1];
    const lastData = last === undefined ? undefined : await storage.stat(slabFileKey('data', last));
    if (last === undefined || lastData?.sealed) {
      // No pair yet, or the newest is finished (an object store's writers seal theirs).
      const w = new SlabStoreWriter(storage, fileLimit, store.totalSlabs);
      await w.startPair(last === undefined ? 0 : last + 1);
      return w;
    }
    // The newest pair's usable slabs are those intact in both files; cut both to that count.
    const dataKey = slabFileKey('data', last);
    const hashesKey = slabFileKey('hashes', last);
    const keep = Math.min((await committedSlabs(storage, dataKey, FileContent.Data)).offsets.length, (await committedSlabs(storage, hashesKey, FileContent.Hashes)).offsets.length);
    const data = await SlabFileWriter.open(storage, dataKey, FileContent.Data, 'append', keep);
    const hashes = await SlabFileWriter.open(storage, hashesKey, FileContent.Hashes, 'append', keep);
    await store.refresh();
    const w = new SlabStoreWriter(storage, fileLimit, store.totalSlabs);
    w.fileNumber = last;
    w.data = data;
    w.hashes = hashes;
    w.started.set(dataKey, { count: data.count, end: data.size });
    w.started.set(hashesKey, { count: hashes.count, end: hashes.size });
    return w;
  }

  private async startPair(n: number): Promise<void> {
    this.fileNumber = n;
    this.sealed = false;
    // Hashes first: a data file a reader lists always has its hashes file beside it.
    this.hashes = await SlabFileWriter.open(this.storage, slabFileKey('hashes', n), FileContent.Hashes, 'create');
    this.data = await SlabFileWriter.open(this.storage, slabFileKey('data', n), FileContent.Data, 'create');
    for (const kind of ['hashes', 'data'] as const) this.started.set(slabFileKey(kind, n), { count: 0, end: fileHeader.size });
  }

  /** Seals the current pair: data first, then hashes (a sealed data file's hashes are complete). */
  private async sealPair(): Promise<void> {
    await this.data.seal();
    await this.hashes.seal();
  }

  /** Id the next appended slab will get (known before its bytes exist, so dedup can point at it). */
  get nextSlabId(): number {
    return this.nextId;
  }

  /** Appends one slab; returns the bytes written to data and hashes files. */
  async append(flags: number, payload: Buffer, length: number, hashList: Buffer): Promise<{ dataBytes: number; hashBytes: number }> {
    if (this.sealed || this.data.size >= this.fileLimit) {
      // A full pair is finished for good: sealed, so no later writer appends to it.
      if (!this.sealed) await this.sealPair();
      for (const [key, extent] of this.started) this.bytesKept += (await this.storage.stat(key)).size - extent.end;
      this.started.clear();
      await this.startPair(this.fileNumber + 1);
    }
    const beforeData = this.data.size;
    const beforeHashes = this.hashes.size;
    await this.data.append(flags, payload, length);
    await this.hashes.append(0, hashList, hashList.length);
    this.nextId++;
    return { dataBytes: this.data.size - beforeData, hashBytes: this.hashes.size - beforeHashes };
  }

  async sync(): Promise<void> {
    await this.data.sync();
    await this.hashes.sync();
  }

  /**
   * Makes everything appended durable and readable: a sync where files are appended in place; on
   * an object store, where unsealed files do not exist yet, the pair is sealed (uploaded) and the
   * next append starts a new one.
   */
  async finish(): Promise<void> {
    if (this.sealed) return;
    if (this.storage.traits.appendInPlace) return this.sync();
    await this.sealPair();
    this.sealed = true;
  }

  async close(): Promise<void> {
    if (this.sealed) return;
    if (!this.storage.traits.appendInPlace) return this.finish();
    await this.data.close();
    await this.hashes.close();
  }

  /**
   * Closes, and cuts the current pair back to its extent before this writer's first append (a
   * pair it created keeps only its headers, so the numbering readers see stays put). On an object
   * store an unsealed pair is dropped (it never existed) and a sealed one stays, as bytes kept.
   */
  async rollback(): Promise<RollbackResult> {
    await this.data.discard().catch(() => undefined); // closing only; the cut below decides
    await this.hashes.discard().catch(() => undefined);
    let bytesRemoved = 0;
    let bytesKept = this.bytesKept;
    for (const [key, extent] of [...this.started].reverse()) {
      const info = await this.storage.stat(key).catch((e: unknown) => (e instanceof DiskarcError && e.code === 'ENOKEY' ? undefined : Promise.reject(e)));
      if (!info) continue;
      if (info.sealed) {
        bytesKept += info.size - extent.end;
        continue;
      }
      if (info.size > extent.end) bytesRemoved += info.size - extent.end;
      await cutSlabFile(this.storage, key, extent);
    }
    return { bytesRemoved, bytesKept };
  }
}
