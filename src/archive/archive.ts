// An archive directory (format.md §1): its configuration, slab store, streams, the shared slab
// cache and zstd worker pool. Readers (StreamReader) and the writer (pack) both start here.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { classifySystemError, DiskarcError } from '../errors.js';
import { CONFIG_FILE, DEFAULTS, FORMAT_NAME, FORMAT_VERSION, readConfig, validateConfig, type ArchiveConfig, type CompressionConfig } from './config.js';
import { SlabCache } from './slab-cache.js';
import { SlabLoader } from './slab-loader.js';
import { createSlabDirs, SlabStore } from './slab-store.js';
import type { StreamInfo } from './stream-info.js';
import { MapReader } from './stream-map.js';
import { StreamReader } from './stream-reader.js';
import { ZstdPool } from './zstd-pool.js';

export const STREAMS_DIR = 'streams';
export const META_FILE = 'meta.json';
const STREAM_ID_RE = /^[0-9a-f]{16}$/;
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

// Until the archive moves onto src/storage (docs/storage.md), its files use local storage's helper.
import { fsyncDir } from '../storage/local-files.js';
export { fsyncDir };

export class Archive {
  private constructor(
    readonly dir: string,
    readonly config: ArchiveConfig,
    readonly store: SlabStore,
    readonly pool: ZstdPool,
    readonly cache: SlabCache,
  ) {}

  /** Makes a new archive; refuses an existing non-empty directory. */
  static async create(dir: string, opts: CreateOptions = {}): Promise<ArchiveConfig> {
    try {
      const entries = await readdir(dir);
      if (entries.length > 0) throw new DiskarcError('EEXIST', `${dir} exists and is not empty; choose a new directory for the archive`, { archive: dir });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new DiskarcError('EEXIST', `${dir} exists and is not a directory`, { archive: dir });
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
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
    await mkdir(dir, { recursive: true });
    await createSlabDirs(dir);
    await mkdir(join(dir, STREAMS_DIR));
    await mkdir(join(dir, 'index'));
    // The config is written last: a directory without it is not an archive yet.
    const tmp = join(dir, `${CONFIG_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify(config, null, 2) + '\n', { flag: 'wx' });
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, join(dir, CONFIG_FILE));
    await fsyncDir(dir);
    return config;
  }

  static async open(dir: string, opts: OpenOptions = {}): Promise<Archive> {
    let isDir: boolean;
    try {
      isDir = (await stat(dir)).isDirectory();
    } catch (e) {
      // Only a missing path "does not exist"; EACCES, EIO… are reported as what they are.
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno !== 'ENOENT' && errno !== 'ENOTDIR') throw classifySystemError(e, `opening the archive ${dir}`);
      isDir = false;
    }
    if (!isDir) throw new DiskarcError('ENOARCHIVE', `archive ${dir} does not exist (create one with: diskarc create -a ${dir})`, { archive: dir });
    const config = await readConfig(dir);
    const store = await SlabStore.open(dir);
    const pool = new ZstdPool();
    const cache = new SlabCache(new SlabLoader(store, { slabBytes: config.slabSize }), opts.cacheBytes ?? config.dataCacheMiB * 1024 * 1024);
    return new Archive(dir, config, store, pool, cache);
  }

  streamDir(id: string): string {
    return join(this.dir, STREAMS_DIR, id);
  }

  /** Streams whose metadata could not be read at the last listing, with the reason. */
  damagedStreams: DiskarcError[] = [];

  /**
   * Every committed stream, oldest first. Streams being written (temp directories) never show.
   * A stream with unreadable metadata is left out and recorded in `damagedStreams`, so one damaged
   * stream does not hide the others; callers report those.
   */
  async listStreams(): Promise<StreamInfo[]> {
    const ids = (await readdir(join(this.dir, STREAMS_DIR))).filter((n) => STREAM_ID_RE.test(n));
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
    const path = join(this.streamDir(id), META_FILE);
    try {
      const info = JSON.parse(await readFile(path, 'utf8')) as StreamInfo;
      if (info.id !== id || !Number.isSafeInteger(info.size) || info.size < 0) throw new DiskarcError('ECORRUPT', 'fields do not match the stream');
      return info;
    } catch (e) {
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
    const map = await MapReader.open(this.streamDir(info.id), info.size);
    return new StreamReader(info, map, this.cache);
  }

  /**
   * Opens a stream being written (its temp directory) — used by pack's read-back verify. It reads
   * through a cache of its own: its new slabs must not linger in the shared cache if the pack
   * does not commit (they are cut, and their ids reused). The verify borrows its slabs (decoded
   * into reused buffers, not cached), so this cache stays small.
   */
  async openUncommitted(dir: string, info: StreamInfo): Promise<StreamReader> {
    const cache = new SlabCache(new SlabLoader(this.store, { slabBytes: this.config.slabSize }), Math.min(VERIFY_CACHE_BYTES, this.config.dataCacheMiB * 1024 * 1024));
    return new StreamReader(info, await MapReader.open(dir, info.size), cache);
  }

  /** Takes the archive's writer lock (one pack at a time); stale locks of dead processes are broken. */
  async lock(): Promise<() => Promise<void>> {
    const path = join(this.dir, 'lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
        return async () => {
          await rm(path, { force: true });
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          // Made but not written (a full disk): an empty lock must not outlive this failure.
          await rm(path, { force: true }).catch(() => undefined);
          throw e;
        }
        const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        let alive = false;
        try {
          if (pid > 0) {
            process.kill(pid, 0);
            alive = true;
          }
        } catch {
          alive = false;
        }
        if (alive) throw new DiskarcError('ELOCKED', `archive ${this.dir} is being written by process ${pid}; wait for it to finish`, { archive: this.dir, pid });
        await rm(path, { force: true });
      }
    }
    throw new DiskarcError('ELOCKED', `cannot lock archive ${this.dir}`, { archive: this.dir });
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.store.close();
  }
}
