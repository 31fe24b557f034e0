// An archive directory (format.md §1): its configuration, slab store, streams, the shared slab
// cache and zstd worker pool. Readers (StreamReader) and the writer (pack) both start here.
import { randomBytes } from 'node:crypto';
import { DiskarcError } from '../errors.js';
import type { Storage } from '../storage/backend.js';
import { isStreamId, parseStreamKey, streamKey, STREAMS_PREFIX } from '../storage/keys.js';
import { LocalStorage } from '../storage/local.js';
import { DEFAULTS, FORMAT_NAME, FORMAT_VERSION, readConfig, validateConfig, writeConfig, type ArchiveConfig, type CompressionConfig } from './config.js';
import { SlabCache } from './slab-cache.js';
import { SlabLoader } from './slab-loader.js';
import { SlabStore } from './slab-store.js';
import type { StreamInfo } from './stream-info.js';
import { MapReader } from './stream-map.js';
import { StreamReader } from './stream-reader.js';
import { ZstdPool } from './zstd-pool.js';
import { inContext } from './error-context.js';

export const STREAMS_DIR = 'streams';
export const META_FILE = 'meta.json';
/** Top-level folders a new local archive shows from the start (format.md §1). */
const LAYOUT_FOLDERS = ['data', 'hashes', 'streams', 'index'];
/** Decompressed-slab budget of pack's read-back verify (it borrows slabs; see openUncommitted). */
const VERIFY_CACHE_BYTES = 8 * 1024 * 1024;

export interface CreateOptions {
  blockSize?: number;
  slabSize?: number;
  slabFileLimit?: number;
  compression?: CompressionConfig;
  dataCacheMiB?: number;
}

export interface OpenOptions {
  /** Byte budget of the decompressed-slab cache (default: the archive's dataCacheMiB). */
  cacheBytes?: number;
}

export class Archive {
  private constructor(
    /** Where the archive is, for messages (its directory for a local one). */
    readonly dir: string,
    readonly storage: Storage,
    readonly config: ArchiveConfig,
    readonly store: SlabStore,
    readonly pool: ZstdPool,
    readonly cache: SlabCache,
  ) {}

  /** Makes a new archive; refuses an existing non-empty directory. */
  static async create(dir: string, opts: CreateOptions = {}): Promise<ArchiveConfig> {
    const storage = await LocalStorage.create(dir, { folders: LAYOUT_FOLDERS });
    try {
      return await Archive.initialize(storage, opts);
    } finally {
      await storage.close();
    }
  }

  /**
   * Writes a new archive's configuration into empty storage (the last step of create: storage
   * without it is not an archive yet). Write-once: refuses storage that already holds one.
   */
  static async initialize(storage: Storage, opts: CreateOptions = {}): Promise<ArchiveConfig> {
    const config: ArchiveConfig = validateConfig({
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      archiveId: randomBytes(16).toString('hex'),
      createdAt: new Date().toISOString(),
      blockSize: opts.blockSize ?? DEFAULTS.blockSize,
      slabSize: opts.slabSize ?? DEFAULTS.slabSize,
      slabFileLimit: opts.slabFileLimit ?? DEFAULTS.slabFileLimit,
      compression: opts.compression ?? DEFAULTS.compression,
      dataCacheMiB: opts.dataCacheMiB ?? DEFAULTS.dataCacheMiB,
    }, 'new archive settings');
    await writeConfig(storage, config);
    return config;
  }

  /** Opens the archive in directory `dir`. */
  static async open(dir: string, opts: OpenOptions = {}): Promise<Archive> {
    let storage: LocalStorage;
    try {
      storage = await LocalStorage.open(dir);
    } catch (e) {
      if (e instanceof DiskarcError && e.code === 'ENOARCHIVE') throw new DiskarcError('ENOARCHIVE', `archive ${dir} does not exist (create one with: diskarc create -a ${dir})`, { archive: dir });
      throw inContext(e, `opening the archive ${dir}`);
    }
    try {
      return await Archive.openStorage(storage, dir, opts);
    } catch (e) {
      throw inContext(e, `opening the archive ${dir}`);
    }
  }

  /** Opens the archive kept in `storage` (any backend); `dir` names it in messages. Closing the archive closes the storage. */
  static async openStorage(storage: Storage, dir: string, opts: OpenOptions = {}): Promise<Archive> {
    const config = await readConfig(storage, dir);
    const store = await SlabStore.open(storage, dir);
    const pool = new ZstdPool();
    const cache = new SlabCache(new SlabLoader(store, { slabBytes: config.slabSize }), opts.cacheBytes ?? config.dataCacheMiB * 1024 * 1024);
    return new Archive(dir, storage, config, store, pool, cache);
  }

  /** Where stream `id`'s files are (for messages). */
  streamDir(id: string): string {
    return this.storage.where(`${STREAMS_PREFIX}${id}`);
  }

  /** Streams whose metadata could not be read at the last listing, with the reason. */
  damagedStreams: DiskarcError[] = [];

  /**
   * Every committed stream, oldest first. Streams being written (temp directories) never show.
   * A stream with unreadable metadata is left out and recorded in `damagedStreams`, so one damaged
   * stream does not hide the others; callers report those.
   */
  async listStreams(): Promise<StreamInfo[]> {
    // A stream exists once its meta.json does (format.md §7): map files without one are a pack
    // in progress or one that died, never listed.
    const ids = (await this.storage.list(STREAMS_PREFIX)).map((k) => parseStreamKey(k.key)).filter((k) => k?.file === META_FILE).map((k) => k!.id);
    const results = await Promise.allSettled(ids.map((id) => this.readInfo(id)));
    const infos: StreamInfo[] = [];
    const damaged: DiskarcError[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') infos.push(r.value);
      else if (r.reason instanceof DiskarcError) damaged.push(r.reason);
      else throw r.reason;
    }
    this.damagedStreams = damaged;
    return infos.sort((a, b) => a.packTime.localeCompare(b.packTime) || a.id.localeCompare(b.id));
  }

  private async readInfo(id: string): Promise<StreamInfo> {
    const key = streamKey(id, META_FILE);
    const path = this.storage.where(key);
    try {
      const info = JSON.parse((await this.storage.readAll(key)).toString('utf8')) as StreamInfo;
      if (info.id !== id || !Number.isSafeInteger(info.size) || info.size < 0) throw new DiskarcError('ECORRUPT', 'fields do not match the stream');
      return info;
    } catch (e) {
      // Only damage makes a stream "damaged"; a failing disk or a permission is the archive's error.
      if (e instanceof DiskarcError && e.code !== 'ECORRUPT' && e.code !== 'ENOKEY') throw e;
      throw new DiskarcError('ECORRUPT', `stream ${id}: metadata ${path} is unreadable: ${(e as Error).message}`, { stream: id }, { cause: e });
    }
  }

  /** Finds a stream by id, unique id prefix, or name (the newest stream of that name wins). */
  async resolveStream(ref: string): Promise<StreamInfo> {
    if (!ref) throw new DiskarcError('ENOSTREAM', 'no stream given (use -s ID, an id prefix, or a name; see diskarc list)');
    const streams = await this.listStreams();
    const exact = streams.find((s) => s.id === ref);
    if (exact) return exact;
    const damaged = this.damagedStreams.find((e) => e.details.stream === ref);
    if (damaged) throw damaged;
    const byName = streams.filter((s) => s.name === ref);
    if (byName.length > 0) return byName[byName.length - 1];
    const hex = /^[0-9a-f]+$/.test(ref);
    const byPrefix = hex ? streams.filter((s) => s.id.startsWith(ref)) : [];
    // A prefix is matched against damaged streams' ids too: its damage is the answer, not "no stream".
    const damagedByPrefix = hex ? this.damagedStreams.filter((e) => String(e.details.stream).startsWith(ref)) : [];
    if (byPrefix.length + damagedByPrefix.length > 1) {
      const ids = [...byPrefix.map((s) => s.id), ...damagedByPrefix.map((e) => `${String(e.details.stream)} (damaged)`)];
      throw new DiskarcError('ENOSTREAM', `stream prefix "${ref}" is ambiguous: ${ids.join(', ')}`, { stream: ref });
    }
    if (byPrefix.length === 1) return byPrefix[0];
    if (damagedByPrefix.length === 1) throw damagedByPrefix[0];
    const unsearched = this.damagedStreams.length ? `; ${this.damagedStreams.length} stream(s) with damaged metadata could not be searched by name: ${this.damagedStreams.map((e) => String(e.details.stream)).join(', ')}` : '';
    throw new DiskarcError('ENOSTREAM', `no stream "${ref}" in ${this.dir} (see diskarc list -a ${this.dir})${unsearched}`, { stream: ref, archive: this.dir });
  }

  /**
   * Opens a stream for random access (by id, prefix or name). A stream committed after the slab
   * store last looked at its files makes it look again first: a pack that failed before may have
   * cut slabs this reader knew of, and the new stream's slabs may sit where they were.
   */
  async openStream(ref: string): Promise<StreamReader> {
    const info = await this.resolveStream(ref);
    if (!(this.store.refreshedAt >= Date.parse(info.packTime))) await this.store.refresh();
    const map = await MapReader.open(this.storage, info.id, info.size);
    return new StreamReader(info, map, this.cache);
  }

  /**
   * Opens a stream being written (its map is sealed, its meta.json not yet there) — used by pack's
   * read-back verify. It reads through a cache of its own: its new slabs must not linger in the
   * shared cache if the pack does not commit (they are cut, and their ids reused). The verify
   * borrows its slabs (decoded into reused buffers, not cached), so this cache stays small.
   */
  async openUncommitted(info: StreamInfo): Promise<StreamReader> {
    if (!isStreamId(info.id)) throw new DiskarcError('EINTERNAL', `"${info.id}" is not a stream id`);
    const cache = new SlabCache(new SlabLoader(this.store, { slabBytes: this.config.slabSize }), Math.min(VERIFY_CACHE_BYTES, this.config.dataCacheMiB * 1024 * 1024));
    return new StreamReader(info, await MapReader.open(this.storage, info.id, info.size), cache);
  }

  /**
   * Takes the archive's writer lock (one pack at a time): storage's lock, whose holder record
   * (boot id, pid, start time) lets a lock of a provably dead process be taken over, never a
   * live one's. Returns its release.
   */
  async lock(): Promise<() => Promise<void>> {
    try {
      const lock = await this.storage.lockWriter();
      return () => lock.release();
    } catch (e) {
      if (e instanceof DiskarcError && e.code === 'ELOCKED') throw new DiskarcError('ELOCKED', `archive ${this.dir}: ${e.message}`, { archive: this.dir, ...e.details }, { cause: e });
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.store.close();
    await this.storage.close();
  }
}
