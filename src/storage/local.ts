// The local backend: an archive directory, one file per key (docs/storage.md "local"). Writes are
// durable when they return (file fsync, then directory fsync for names); put files are created
// read-only and sealed files made so, which is how a later writer knows not to append to them.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DiskarcError } from '../errors.js';
import { checkOffset, keyExists, noSuchKey, type AppendHandle, type AppendOptions, type KeyInfo, type ObjectReader, type Storage, type StorageTraits, type WriterLock } from './backend.js';
import { checkKey, checkPrefix, keyProblem, LOCK_KEY } from './keys.js';
import { currentHolder } from './lock-holder.js';
import { fileError, fsyncDir, makeDirs, makeRoomFor, readAllAt, writeAll, writeNewFile } from './local-files.js';
import { lockDirectory } from './local-lock.js';

const isSealed = (mode: number) => (mode & 0o222) === 0;

export class LocalStorage implements Storage {
  readonly traits: StorageTraits = { appendInPlace: true };

  private constructor(readonly root: string) {}

  /** Opens an existing directory; ENOARCHIVE when there is none. */
  static async open(root: string): Promise<LocalStorage> {
    let isDir = false;
    try {
      isDir = (await stat(root)).isDirectory();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw fileError(e, '', root, 'opening');
    }
    if (!isDir) throw new DiskarcError('ENOARCHIVE', `${root} does not exist or is not a directory`, { archive: root });
    return new LocalStorage(root);
  }

  /**
   * Makes a new, empty directory (or takes an empty one); EEXIST when it holds anything.
   * `folders`: top-level folders to make now (the archive's layout, format.md §1), so the
   * directory shows its layout from the start; every other folder appears with its first key.
   */
  static async create(root: string, opts: { folders?: readonly string[] } = {}): Promise<LocalStorage> {
    try {
      const entries = await readdir(root);
      if (entries.length > 0) throw new DiskarcError('EEXIST', `${root} exists and is not empty; choose a new directory for the archive`, { archive: root });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new DiskarcError('EEXIST', `${root} exists and is not a directory`, { archive: root });
      if (code !== 'ENOENT') throw fileError(e, '', root, 'creating');
      await makeDirs(root).catch((me: unknown) => Promise.reject(fileError(me, '', root, 'creating', true)));
    }
    try {
      for (const f of opts.folders ?? []) await mkdir(join(root, checkKey(f)));
      if (opts.folders?.length) await fsyncDir(root);
    } catch (e) {
      throw e instanceof DiskarcError ? e : fileError(e, '', root, 'creating', true);
    }
    return new LocalStorage(root);
  }

  where(key: string): string {
    return join(this.root, key);
  }

  private path(key: string): string {
    return join(this.root, checkKey(key));
  }

  async list(prefix: string): Promise<KeyInfo[]> {
    checkPrefix(prefix);
    const out: KeyInfo[] = [];
    const start = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await this.walk(start, prefix, out);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async walk(rel: string, prefix: string, out: KeyInfo[]): Promise<void> {
    const dir = join(this.root, rel);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw fileError(e, rel, dir, 'listing');
    }
    const files: string[] = [];
    for (const d of entries) {
      const key = rel ? `${rel}/${d.name}` : d.name;
      // Temp files (names with '~'), the lock and anything not a valid key are not objects.
      if (keyProblem(key) !== undefined || key === LOCK_KEY) continue;
      if (d.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await this.walk(key, prefix, out);
      } else if (d.isFile() && key.startsWith(prefix)) files.push(key);
    }
    const infos = await Promise.all(files.map((k) => this.stat(k).catch((e: unknown) => (e instanceof DiskarcError && e.code === 'ENOKEY' ? undefined : Promise.reject(e)))));
    for (const i of infos) if (i) out.push(i);
  }

  async stat(key: string): Promise<KeyInfo> {
    const path = this.path(key);
    try {
      const st = await stat(path);
      if (!st.isFile()) throw noSuchKey(key, path);
      return { key, size: st.size, sealed: isSealed(st.mode) };
    } catch (e) {
      throw fileError(e, key, path, 'reading');
    }
  }

  async read(key: string, offset: number, into: Uint8Array): Promise<number> {
    const r = await this.open(key);
    try {
      return await r.read(into, offset);
    } finally {
      await r.close();
    }
  }

  async readAll(key: string): Promise<Buffer> {
    const path = this.path(key);
    try {
      return await readFile(path);
    } catch (e) {
      throw fileError(e, key, path, 'reading');
    }
  }

  async open(key: string): Promise<ObjectReader> {
    const path = this.path(key);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw fileError(e, key, path, 'opening');
    }
    // A folder opens for reading too (and reads of 0 bytes succeed), but it is no key.
    const isFile = await fh.stat().then((st) => st.isFile(), async (e: unknown) => {
      await fh.close();
      throw fileError(e, key, path, 'opening');
    });
    if (!isFile) {
      await fh.close();
      throw noSuchKey(key, path);
    }
    return new LocalReader(key, path, fh);
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], opts: { replace?: boolean } = {}): Promise<void> {
    const path = this.path(key);
    const parts = data instanceof Uint8Array ? [data] : data;
    try {
      await makeRoomFor(path);
      await writeNewFile(tempName(path), path, parts, opts.replace === true);
    } catch (e) {
      throw fileError(e, key, path, 'writing', true);
    }
  }

  async append(key: string, opts: AppendOptions = {}): Promise<AppendHandle> {
    const path = this.path(key);
    try {
      if (opts.resumeAt === undefined) {
        await makeRoomFor(path);
        return new LocalAppend(key, path, await open(path, 'wx'), 0, false);
      }
      checkOffset(opts.resumeAt, 'resume length');
      const info = await this.stat(key);
      if (info.sealed) throw keyExists(key, path, 'it is sealed');
      if (info.size < opts.resumeAt) throw new DiskarcError('ECORRUPT', `${path} holds ${info.size} bytes, fewer than the ${opts.resumeAt} committed to it`, { key, path });
      const fh = await open(path, 'r+');
      try {
        await fh.truncate(opts.resumeAt);
        await fh.sync();
      } catch (e) {
        await fh.close();
        throw e;
      }
      return new LocalAppend(key, path, fh, opts.resumeAt, true);
    } catch (e) {
      throw e instanceof DiskarcError ? e : fileError(e, key, path, 'writing', opts.resumeAt === undefined);
    }
  }

  async move(from: string, to: string): Promise<void> {
    const src = this.path(from);
    const dst = this.path(to);
    await this.stat(from);
    try {
      await makeRoomFor(dst);
      // link then unlink: rename(2) would replace an existing `to`.
      await link(src, dst);
      await fsyncDir(dirname(dst));
    } catch (e) {
      throw fileError(e, to, dst, 'renaming to', true);
    }
    try {
      await unlink(src);
      await fsyncDir(dirname(src));
    } catch (e) {
      throw fileError(e, from, src, 'renaming');
    }
  }

  async remove(key: string, opts: { ifExists?: boolean } = {}): Promise<boolean> {
    const path = this.path(key);
    try {
      await unlink(path);
    } catch (e) {
      const err = fileError(e, key, path, 'removing');
      if (opts.ifExists && err instanceof DiskarcError && err.code === 'ENOKEY') return false;
      throw err;
    }
    try {
      await fsyncDir(dirname(path));
      // A folder below the top level (a stream's) goes with its last key, so a removed stream
      // leaves nothing behind; top-level folders are the archive's layout and stay.
      if (key.indexOf('/') !== key.lastIndexOf('/')) await removeIfEmpty(dirname(path));
    } catch (e) {
      throw fileError(e, key, path, 'removing');
    }
    return true;
  }

  async lockWriter(): Promise<WriterLock> {
    return lockDirectory(this.root, await currentHolder());
  }

  async close(): Promise<void> {}
}

async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return;
    throw e;
  }
  await fsyncDir(dirname(dir));
}

/** A temp name beside `path` that no key can have ('~' is not a key character). */
function tempName(path: string): string {
  return `${path}~${randomBytes(6).toString('hex')}.tmp`;
}

class LocalReader implements ObjectReader {
  private readonly jobs = new Set<Promise<unknown>>();
  private closed = false;

  constructor(readonly key: string, private readonly path: string, private readonly fh: FileHandle) {}

  async size(): Promise<number> {
    try {
      return (await this.fh.stat()).size;
    } catch (e) {
      throw fileError(e, this.key, this.path, 'reading');
    }
  }

  async read(into: Uint8Array, offset: number): Promise<number> {
    checkOffset(offset);
    if (this.closed) throw new DiskarcError('EINTERNAL', `read of ${this.path} after close`);
    try {
      return await readAllAt(this.fh, into, offset);
    } catch (e) {
      throw fileError(e, this.key, this.path, 'reading');
    }
  }

  withDescriptor<T>(job: (fd: number) => Promise<T>): Promise<T> {
    if (this.closed) throw new DiskarcError('EINTERNAL', `read of ${this.path} after close`);
    const p = job(this.fh.fd);
    this.jobs.add(p);
    const untrack = () => this.jobs.delete(p);
    p.then(untrack, untrack);
    return p;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A pool thread may still be reading the descriptor; closing it under that read could make
    // the read land on whatever file reuses the number.
    await Promise.allSettled([...this.jobs]);
    await this.fh.close();
  }
}

class LocalAppend implements AppendHandle {
  private readonly writes = new Set<Promise<void>>();
  /** A write failed: what is on disk after the last sync is unknown until truncate(). */
  private broken: unknown;
  private closed = false;

  constructor(readonly key: string, private readonly path: string, private readonly fh: FileHandle, public length: number, private nameDurable: boolean) {}

  private check(): void {
    if (this.closed) throw new DiskarcError('EINTERNAL', `write to ${this.path} after close`);
  }

  private fail(e: unknown, doing: string): unknown {
    return e instanceof DiskarcError ? e : fileError(e, this.key, this.path, doing);
  }

  private async settle(): Promise<void> {
    await Promise.allSettled([...this.writes]);
    if (this.broken !== undefined) throw this.broken;
  }

  append(parts: readonly Uint8Array[]): Promise<number> {
    this.check();
    if (this.broken !== undefined) return Promise.reject(this.broken);
    const at = this.length;
    for (const p of parts) this.length += p.length;
    const w = writeAll(this.fh, parts, at).catch((e: unknown) => {
      this.broken ??= this.fail(e, 'writing');
      throw this.broken;
    });
    this.writes.add(w);
    const untrack = () => this.writes.delete(w);
    w.then(untrack, untrack);
    return w.then(() => at);
  }

  async sync(): Promise<void> {
    this.check();
    await this.settle();
    try {
      await this.fh.sync();
      if (!this.nameDurable) {
        await fsyncDir(dirname(this.path));
        this.nameDurable = true;
      }
    } catch (e) {
      throw this.fail(e, 'syncing');
    }
  }

  async truncate(length: number): Promise<void> {
    this.check();
    checkOffset(length, 'length');
    await Promise.allSettled([...this.writes]);
    if (length > this.length) throw new DiskarcError('ERANGE', `cannot truncate ${this.path} to ${length} bytes: it holds ${this.length}`, { key: this.key, length });
    try {
      await this.fh.truncate(length);
      await this.fh.sync();
    } catch (e) {
      throw this.fail(e, 'truncating');
    }
    this.length = length;
    this.broken = undefined;
  }

  async seal(): Promise<void> {
    this.check();
    await this.settle();
    try {
      await this.fh.chmod(0o444);
      await this.sync();
    } catch (e) {
      throw this.fail(e, 'sealing');
    }
    await this.closeFile();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.sync();
    } finally {
      await this.closeFile();
    }
  }

  async abandon(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.writes]);
    await this.closeFile();
  }

  private async closeFile(): Promise<void> {
    this.closed = true;
    await this.fh.close();
  }
}
