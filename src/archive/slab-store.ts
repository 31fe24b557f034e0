// The archive's slab files as one sequence of numbered slabs (format.md §2): data file N and
// hashes file N hold the same slabs, so slab id → (file pair, index) is a prefix-sum lookup.
// Files roll over past the configured size limit; a writer cuts any torn tail before appending
// and can roll everything it appended back (format.md §7).
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskarcError } from '../errors.js';
import { FileContent, fileHeader } from './layout.js';
import { committedSlabs, cutSlabFile, SlabFileReader, SlabFileWriter, type SlabFileExtent } from './slab-file.js';

const FILE_RE = /^(\d{6})\.slab$/;
export const DATA_DIR = 'data';
export const HASHES_DIR = 'hashes';

const fileName = (n: number) => `${String(n).padStart(6, '0')}.slab`;

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

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<SlabStore> {
    const store = new SlabStore(dir);
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
    let names: string[];
    try {
      names = await readdir(join(this.dir, DATA_DIR));
    } catch (e) {
      throw new DiskarcError('ECORRUPT', `${this.dir}: missing ${DATA_DIR}/ directory`, { archive: this.dir }, { cause: e });
    }
    const numbers = names.map((n) => FILE_RE.exec(n)?.[1]).filter((n): n is string => !!n).map(Number).sort((a, b) => a - b);
    // Only the newest pair seen last time can have grown; older ones were finished (writers
    // never go back to a file once they roll over).
    const growing = Math.max(0, this.pairs.length - 1);
    let first = 0;
    for (let i = 0; i < numbers.length; i++) {
      let pair = this.pairs[i];
      if (!pair) {
        const data = await SlabFileReader.open(join(this.dir, DATA_DIR, fileName(numbers[i])), FileContent.Data);
        const hashes = await SlabFileReader.open(join(this.dir, HASHES_DIR, fileName(numbers[i])), FileContent.Hashes);
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
  /** The current pair's files, with their extents before this writer's first append. */
  private readonly started = new Map<string, SlabFileExtent>();
  /** Bytes appended to pairs since rolled over from (kept by a rollback). */
  private bytesKept = 0;

  private constructor(private readonly dir: string, private readonly fileLimit: number, firstId: number) {
    this.nextId = firstId;
  }

  static async open(store: SlabStore, fileLimit: number): Promise<SlabStoreWriter> {
    await store.refresh();
    const numbers = store.fileNumbers;
    const last = numbers[numbers.length - 1];
    if (last === undefined) {
      const w = new SlabStoreWriter(store.dir, fileLimit, 0);
      await w.startPair(0);
      return w;
    }
    // The newest pair's usable slabs are those intact in both files; cut both to that count.
    const dataPath = join(store.dir, DATA_DIR, fileName(last));
    const hashesPath = join(store.dir, HASHES_DIR, fileName(last));
    const keep = Math.min((await committedSlabs(dataPath, FileContent.Data)).offsets.length, (await committedSlabs(hashesPath, FileContent.Hashes)).offsets.length);
    const data = await SlabFileWriter.open(dataPath, FileContent.Data, 'append', keep);
    const hashes = await SlabFileWriter.open(hashesPath, FileContent.Hashes, 'append', keep);
    await store.refresh();
    const w = new SlabStoreWriter(store.dir, fileLimit, store.totalSlabs);
    w.fileNumber = last;
    w.data = data;
    w.hashes = hashes;
    w.started.set(dataPath, { count: data.count, end: data.size });
    w.started.set(hashesPath, { count: hashes.count, end: hashes.size });
    return w;
  }

  private path(kind: string, n: number): string {
    return join(this.dir, kind, fileName(n));
  }

  private async startPair(n: number): Promise<void> {
    this.fileNumber = n;
    // Hashes first: a data file a reader lists always has its hashes file beside it.
    this.hashes = await SlabFileWriter.open(this.path(HASHES_DIR, n), FileContent.Hashes, 'create');
    this.data = await SlabFileWriter.open(this.path(DATA_DIR, n), FileContent.Data, 'create');
    for (const kind of [HASHES_DIR, DATA_DIR]) this.started.set(this.path(kind, n), { count: 0, end: fileHeader.size });
  }

  private async closeFiles(): Promise<void> {
    await this.data.close();
    await this.hashes.close();
  }

  /** Id the next appended slab will get (known before its bytes exist, so dedup can point at it). */
  get nextSlabId(): number {
    return this.nextId;
  }

  /** Appends one slab; returns the bytes written to data and hashes files. */
  async append(flags: number, payload: Buffer, length: number, hashList: Buffer): Promise<{ dataBytes: number; hashBytes: number }> {
    if (this.data.size >= this.fileLimit) {
      await this.closeFiles();
      for (const [path, extent] of this.started) this.bytesKept += (await stat(path)).size - extent.end;
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

  async close(): Promise<void> {
    await this.closeFiles();
  }

  /**
   * Closes, and cuts the current pair back to its extent before this writer's first append (a
   * pair it created keeps only its headers, so the numbering readers see stays put).
   */
  async rollback(): Promise<RollbackResult> {
    await this.data.discard().catch(() => undefined); // closing only; the cut below decides
    await this.hashes.discard().catch(() => undefined);
    let bytesRemoved = 0;
    for (const [path, extent] of [...this.started].reverse()) {
      const size = (await stat(path)).size;
      if (size > extent.end) bytesRemoved += size - extent.end;
      await cutSlabFile(path, extent);
    }
    return { bytesRemoved, bytesKept: this.bytesKept };
  }
}

export async function createSlabDirs(dir: string): Promise<void> {
  await mkdir(join(dir, DATA_DIR));
  await mkdir(join(dir, HASHES_DIR));
}
