// The storage seam under an archive: named objects (keys, see keys.ts) that are written once —
// whole by put, or by an append handle until sealed — then read by range, listed, moved and
// removed, plus one exclusive writer lock. Backends: local.ts (a directory), memory.ts (buffers);
// an object store fits the same contract (docs/storage.md gives each operation's mapping).
import { DiskarcError } from '../errors.js';
import type { LockHolder } from './lock-holder.js';

export interface KeyInfo {
  key: string;
  /** Bytes readable now (an unsealed key still being appended may grow). */
  size: number;
  /** Written whole by put, or sealed: its bytes never change again. */
  sealed: boolean;
}

export interface StorageTraits {
  /**
   * true (local): an unsealed key exists at its name while being appended, readers see bytes
   * once written, sync() makes them durable, and a later writer may resume it (append with
   * resumeAt). false (an object store): an unsealed key does not exist until seal uploads it
   * whole, and a crashed writer's unsealed bytes are gone.
   */
  readonly appendInPlace: boolean;
}

/** Random access to one key. Reads may run concurrently. */
export interface ObjectReader {
  readonly key: string;
  /** Current size (grows while an unsealed key is appended in place). */
  size(): Promise<number>;
  /**
   * Reads bytes at `offset` into `into` until it is full or the object ends; returns how many
   * (0 at or past the end — a short count is not an error here, callers decide).
   */
  read(into: Uint8Array, offset: number): Promise<number>;
  /**
   * Lends the open file descriptor to `job` (a native pool job such as readRecordDecoding), or
   * returns undefined when the backend has none (memory, object stores): use read() then.
   * close() waits for every lent job, so the descriptor is never closed under a running read.
   */
  withDescriptor<T>(job: (fd: number) => Promise<T>): Promise<T> | undefined;
  close(): Promise<void>;
}

/**
 * Appends to one key until seal(). One writer per key (the writer lock's holder). Appends may be
 * issued without awaiting the previous one: each gets the next offset when called.
 */
export interface AppendHandle {
  readonly key: string;
  /** Bytes appended so far: the offset the next append lands at. */
  readonly length: number;
  /** Appends `parts` (one write where the backend can) and returns the offset they start at. */
  append(parts: readonly Uint8Array[]): Promise<number>;
  /**
   * appendInPlace: returns once everything appended is durable, and `length` is one a later
   * writer may resume at. An object store keeps nothing before seal: there it only checks.
   */
  sync(): Promise<void>;
  /** Drops everything after `length` (≤ this.length): a failed writer rolls back its torn tail. */
  truncate(length: number): Promise<void>;
  /** Makes the key durable and immutable (object store: uploads it); the handle is then closed. */
  seal(): Promise<void>;
  /**
   * appendInPlace: syncs and closes, leaving the key unsealed for a later writer to resume.
   * An object store holds no unsealed keys: there close() is seal().
   */
  close(): Promise<void>;
  /** Closes without syncing; appendInPlace backends keep what was written, others drop it. */
  abandon(): Promise<void>;
}

export interface WriterLock {
  readonly holder: LockHolder;
  /** Gives the lock up (only if it is still this holder's). Idempotent. */
  release(): Promise<void>;
}

export interface AppendOptions {
  /**
   * Continue an existing, unsealed key (appendInPlace backends only) at this committed length,
   * dropping any bytes after it. Without it, the key must not exist.
   */
  resumeAt?: number;
}

export interface Storage {
  readonly traits: StorageTraits;
  /** Where a key lives, for messages (a file path for local). */
  where(key: string): string;
  /** Every key starting with `prefix`, sorted by key (byte order). Never lists the lock. */
  list(prefix: string): Promise<KeyInfo[]>;
  /** ENOKEY when the key does not exist. */
  stat(key: string): Promise<KeyInfo>;
  /** One ranged read (see ObjectReader.read); ENOKEY when the key does not exist. */
  read(key: string, offset: number, into: Uint8Array): Promise<number>;
  /** The whole object (for small ones: configuration, metadata). */
  readAll(key: string): Promise<Buffer>;
  /** Opens a key for many ranged reads; ENOKEY when it does not exist. */
  open(key: string): Promise<ObjectReader>;
  /**
   * Stores `data` under `key`, atomically (readers see all or nothing) and durably before it
   * returns. Write-once: EEXIST when the key exists — unless `replace` (derived data such as the
   * dedup index), which swaps the whole object atomically.
   */
  put(key: string, data: Uint8Array | readonly Uint8Array[], opts?: { replace?: boolean }): Promise<void>;
  /** Starts (or, with resumeAt, continues) an appended key; EEXIST when it exists and is not resumed. */
  append(key: string, opts?: AppendOptions): Promise<AppendHandle>;
  /**
   * Renames a sealed key: `to` appears atomically with all of `from`'s bytes, durably, and `from`
   * is gone. EEXIST when `to` exists (never overwrites), ENOKEY when `from` does not.
   */
  move(from: string, to: string): Promise<void>;
  /** Removes a key, durably; ENOKEY when it does not exist unless `ifExists`. True if it existed. */
  remove(key: string, opts?: { ifExists?: boolean }): Promise<boolean>;
  /**
   * Takes the archive's exclusive writer lock, or ELOCKED naming its holder. A lock is taken over
   * only when its holder is provably gone (lock-holder.ts), never on a guess.
   */
  lockWriter(): Promise<WriterLock>;
  /** Releases what the backend holds (open directory handles, connections). */
  close(): Promise<void>;
}

/** The error for a key that does not exist. */
export function noSuchKey(key: string, where: string): DiskarcError {
  return new DiskarcError('ENOKEY', `${where}: no such file in the archive`, { key, path: where });
}

export function keyExists(key: string, where: string, why = 'it exists and archive files are written once'): DiskarcError {
  return new DiskarcError('EEXIST', `${where}: refusing to write: ${why}`, { key, path: where });
}

/** Byte offsets and lengths come from archive data: refuse nonsense before it reaches a syscall. */
export function checkOffset(offset: number, what = 'offset'): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new DiskarcError('ERANGE', `invalid ${what} ${offset}`, { offset });
}
