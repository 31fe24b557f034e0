// The memory backend: keys held in buffers, for unit tests of maps, the dedup index and the slab
// store without a disk. It keeps the local backend's rules (write-once, sealing, no key that is
// another's folder) and, with { objectStore: true }, an object store's: an appended key exists
// only once sealed. crash() stands for the writer dying: what it had not synced is lost.
import { DiskarcError } from '../errors.js';
import { checkOffset, keyExists, noSuchKey, type AppendHandle, type AppendOptions, type KeyInfo, type ObjectReader, type Storage, type StorageTraits, type WriterLock } from './backend.js';
import { checkKey, checkPrefix } from './keys.js';
import { currentHolder, holderState, lockedError, type LockHolder } from './lock-holder.js';

interface Entry {
  data: Buffer;
  length: number;
  /** Bytes a crash keeps (appendInPlace): the length at the last sync. */
  synced: number;
  sealed: boolean;
  /** The open append handle's generation; a crash bumps `generation` and orphans it. */
  writer?: number;
}

export class MemoryStorage implements Storage {
  readonly traits: StorageTraits;
  private readonly objects = new Map<string, Entry>();
  /** Object-store mode: keys being appended, invisible until sealed. */
  private readonly unsealed = new Map<string, Entry>();
  private lock: { holder: LockHolder; dead: boolean } | undefined;
  private generation = 0;

  constructor(opts: { objectStore?: boolean } = {}) {
    this.traits = { appendInPlace: !opts.objectStore };
  }

  where(key: string): string {
    return `memory:${key}`;
  }

  private get(key: string): Entry {
    const e = this.objects.get(checkKey(key));
    if (!e) throw noSuchKey(key, this.where(key));
    return e;
  }

  /** A new key must not exist, sit under a key, or have keys under it (as on a filesystem). */
  private checkFree(key: string): void {
    if (this.objects.has(key) || this.unsealed.has(key)) throw keyExists(key, this.where(key));
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (this.objects.has(folder) || this.unsealed.has(folder)) throw keyExists(key, this.where(key), 'another archive file is in the way of its folder');
    }
    for (const k of [...this.objects.keys(), ...this.unsealed.keys()]) {
      if (k.startsWith(`${key}/`)) throw keyExists(key, this.where(key), 'another archive file is in the way of its folder');
    }
  }

  async list(prefix: string): Promise<KeyInfo[]> {
    checkPrefix(prefix);
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, e]) => ({ key, size: e.length, sealed: e.sealed }));
  }

  async stat(key: string): Promise<KeyInfo> {
    const e = this.get(key);
    return { key, size: e.length, sealed: e.sealed };
  }

  async read(key: string, offset: number, into: Uint8Array): Promise<number> {
    return readEntry(this.get(key), into, offset);
  }

  async readAll(key: string): Promise<Buffer> {
    const e = this.get(key);
    return Buffer.from(e.data.subarray(0, e.length));
  }

  async open(key: string): Promise<ObjectReader> {
    const entry = this.get(key);
    let closed = false;
    return {
      key,
      size: async () => entry.length,
      read: async (into, offset) => {
        if (closed) throw new DiskarcError('EINTERNAL', `read of ${this.where(key)} after close`);
        return readEntry(entry, into, offset);
      },
      withDescriptor: () => undefined,
      close: async () => {
        closed = true;
      },
    };
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], opts: { replace?: boolean } = {}): Promise<void> {
    checkKey(key);
    const existing = this.objects.get(key);
    if (!(opts.replace && existing && !this.unsealed.has(key) && existing.writer === undefined)) this.checkFree(key);
    const bytes = Buffer.concat(data instanceof Uint8Array ? [data] : data);
    this.objects.set(key, { data: bytes, length: bytes.length, synced: bytes.length, sealed: true });
  }

  async append(key: string, opts: AppendOptions = {}): Promise<AppendHandle> {
    checkKey(key);
    let entry: Entry;
    if (opts.resumeAt === undefined) {
      this.checkFree(key);
      entry = { data: Buffer.alloc(0), length: 0, synced: 0, sealed: false };
      (this.traits.appendInPlace ? this.objects : this.unsealed).set(key, entry);
    } else {
      checkOffset(opts.resumeAt, 'resume length');
      if (!this.traits.appendInPlace) throw new DiskarcError('EUSAGE', `${this.where(key)}: an object store cannot append to a key once written; start a new one`, { key });
      entry = this.get(key);
      if (entry.sealed) throw keyExists(key, this.where(key), 'it is sealed');
      if (entry.writer !== undefined) throw keyExists(key, this.where(key), 'it is being appended to');
      if (entry.length < opts.resumeAt) throw new DiskarcError('ECORRUPT', `${this.where(key)} holds ${entry.length} bytes, fewer than the ${opts.resumeAt} committed to it`, { key });
      entry.length = entry.synced = opts.resumeAt;
    }
    const generation = (entry.writer = this.generation);
    return new MemoryAppend(key, entry, {
      where: this.where(key),
      live: () => generation === this.generation && entry.writer === generation,
      seal: () => {
        entry.sealed = true;
        entry.synced = entry.length;
        entry.writer = undefined;
        if (this.unsealed.delete(key)) this.objects.set(key, entry);
      },
      // Closed unsealed: kept for a resume in place; an object store has nothing to keep.
      drop: () => {
        entry.writer = undefined;
        if (this.unsealed.get(key) === entry) this.unsealed.delete(key);
      },
      sealOnClose: !this.traits.appendInPlace,
    });
  }

  async move(from: string, to: string): Promise<void> {
    checkKey(to);
    const e = this.get(from);
    if (e.writer !== undefined) throw keyExists(from, this.where(from), 'it is being appended to');
    this.checkFree(to);
    this.objects.delete(from);
    this.objects.set(to, e);
  }

  async remove(key: string, opts: { ifExists?: boolean } = {}): Promise<boolean> {
    checkKey(key);
    if (this.objects.delete(key)) return true;
    if (opts.ifExists) return false;
    throw noSuchKey(key, this.where(key));
  }

  async lockWriter(): Promise<WriterLock> {
    const me = await currentHolder();
    for (;;) {
      const held = this.lock;
      if (held) {
        const state = held.dead ? 'gone' : await holderState(held.holder);
        if (state !== 'gone') throw lockedError(this.where('lock'), held.holder, state);
        if (this.lock !== held) continue; // changed while we looked: look again
      }
      const mine = { holder: me, dead: false };
      this.lock = mine;
      return {
        holder: me,
        release: async () => {
          if (this.lock === mine) this.lock = undefined;
        },
      };
    }
  }

  /** Plants a lock held by `holder` (as a crashed writer on a real disk would leave one). */
  plantLock(holder: LockHolder): void {
    this.lock = { holder, dead: false };
  }

  /**
   * The writer dies: unsynced appended bytes are lost (object store: every unsealed key), its
   * append handles stop working, and its lock stays behind with a holder known to be gone.
   */
  crash(): void {
    this.generation++;
    this.unsealed.clear();
    for (const e of this.objects.values()) {
      if (e.sealed) continue;
      e.length = e.synced;
      e.writer = undefined;
    }
    if (this.lock) this.lock.dead = true;
  }

  async close(): Promise<void> {}
}

function readEntry(e: Entry, into: Uint8Array, offset: number): number {
  checkOffset(offset);
  if (offset >= e.length) return 0;
  const n = Math.min(into.length, e.length - offset);
  into.set(e.data.subarray(offset, offset + n));
  return n;
}

/** What an append handle may do to its store: no more than this. */
interface AppendHost {
  where: string;
  /** False once a crash has orphaned the handle. */
  live(): boolean;
  seal(): void;
  drop(): void;
  sealOnClose: boolean;
}

class MemoryAppend implements AppendHandle {
  private closed = false;

  constructor(readonly key: string, private readonly entry: Entry, private readonly host: AppendHost) {}

  get length(): number {
    return this.entry.length;
  }

  private check(): void {
    if (this.closed) throw new DiskarcError('EINTERNAL', `write to ${this.host.where} after close`);
    if (!this.host.live()) throw new DiskarcError('EIO', `${this.host.where}: the writer crashed (MemoryStorage.crash)`, { key: this.key });
  }

  async append(parts: readonly Uint8Array[]): Promise<number> {
    this.check();
    const e = this.entry;
    const at = e.length;
    const need = at + parts.reduce((n, p) => n + p.length, 0);
    if (need > e.data.length) {
      const grown = Buffer.alloc(Math.max(need, e.data.length * 2, 4096));
      e.data.copy(grown, 0, 0, e.length);
      e.data = grown;
    }
    let pos = at;
    for (const p of parts) {
      e.data.set(p, pos);
      pos += p.length;
    }
    e.length = need;
    return at;
  }

  async sync(): Promise<void> {
    this.check();
    this.entry.synced = this.entry.length;
  }

  async truncate(length: number): Promise<void> {
    this.check();
    checkOffset(length, 'length');
    if (length > this.entry.length) throw new DiskarcError('ERANGE', `cannot truncate ${this.host.where} to ${length} bytes: it holds ${this.entry.length}`, { key: this.key, length });
    this.entry.length = this.entry.synced = length;
  }

  async seal(): Promise<void> {
    this.check();
    this.host.seal();
    this.closed = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    if (this.host.sealOnClose) this.host.seal();
    else this.host.drop();
  }

  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.drop();
  }
}
