// A small pool of worker threads doing zstd compression for pack (decompression, which readers
// need, runs in the native addon on libuv's pool). Jobs go to the least-loaded worker and work
// on shared memory the caller owns (sharedBuffer), so no slab is copied or allocated per job.
// Workers are unref'd so they never keep a process alive, and `close()` terminates them at once
// (an interrupted pack must not hang on its workers).
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DiskarcError, systemError } from '../errors.js';
import type { ZstdJob, ZstdResult } from './zstd-worker.js';

interface Pending {
  resolve: (length: number) => void;
  reject: (e: Error) => void;
}

const binding = createRequire(import.meta.url)('zstd-napi/binding.js') as { compressBound(n: number): number };

/** The largest zstd frame `length` bytes can compress to (the size of a `compressInto` output). */
export function compressBound(length: number): number {
  return binding.compressBound(length);
}

/** A Buffer over memory the zstd workers can read and write in place. */
export function sharedBuffer(length: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(length));
}

export class ZstdPool {
  private workers: Array<{ worker: Worker; load: number }> = [];
  /** Why the pool can no longer work (a worker died): every later job fails with it. */
  private broken: Error | undefined;
  private pending = new Map<number, Pending & { slot: number }>();
  private nextId = 1;
  private closed = false;

  /** Workers start on the first job, so commands that never decompress (list, info) spawn none. */
  constructor(private readonly poolSize = Math.max(1, Math.min(4, availableParallelism()))) {}

  private start(): void {
    for (let i = 0; i < this.poolSize; i++) {
      const worker = new Worker(new URL('./zstd-worker.js', import.meta.url));
      worker.unref();
      worker.on('message', (m: ZstdResult) => this.settle(m));
      worker.on('error', (e) => this.fail(workerError(e)));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(new DiskarcError('EINTERNAL', `zstd worker exited unexpectedly (code ${code})`));
      });
      this.workers.push({ worker, load: 0 });
    }
  }

  get size(): number {
    return this.poolSize;
  }

  /** Jobs sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Compresses `src` into `dst` (at least compressBound(src.length) long); resolves to the
   * frame's length. Both must be sharedBuffer memory, left alone until the promise settles.
   */
  compressInto(src: Buffer, dst: Buffer, level: number): Promise<number> {
    if (!(src.buffer instanceof SharedArrayBuffer) || !(dst.buffer instanceof SharedArrayBuffer)) {
      return Promise.reject(new DiskarcError('EINTERNAL', 'compressInto needs sharedBuffer memory'));
    }
    return this.run({ src, dst, level });
  }

  private run(job: Omit<ZstdJob, 'id'>): Promise<number> {
    if (this.closed) return Promise.reject(new DiskarcError('EINTERNAL', 'compression pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    if (this.workers.length === 0) this.start();
    let slot = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.workers[i].load < this.workers[slot].load) slot = i;
    const id = this.nextId++;
    const w = this.workers[slot];
    w.load++;
    if (w.load === 1) w.worker.ref(); // keep the process alive only while work is outstanding
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      w.worker.postMessage({ ...job, id } satisfies ZstdJob);
    });
  }

  private settle(m: ZstdResult): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    const w = this.workers[p.slot];
    w.load--;
    if (w.load === 0) w.worker.unref();
    if ('error' in m) p.reject(new DiskarcError('EINTERNAL', `zstd compression failed: ${m.error}`));
    else p.resolve(m.length);
  }

  private fail(e: Error): void {
    this.broken ??= e;
    this.failAll(e);
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new DiskarcError('EINTERNAL', 'compression pool closed'));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

/**
 * A worker's failure; one the system caused (a worker that cannot start for EMFILE or ENOMEM,
 * which Node reports only in the message) becomes its environmental class (ERESOURCES…).
 */
function workerError(e: Error): Error {
  const errno = (e as NodeJS.ErrnoException).code?.startsWith('E') && !(e as NodeJS.ErrnoException).code?.startsWith('ERR_')
    ? (e as NodeJS.ErrnoException).code
    : /\b(E[A-Z]{2,})\b/.exec(e.message)?.[1];
  const environmental = errno ? systemError(Object.assign(e, { code: errno }), 'starting the compression workers') : undefined;
  return environmental ?? new DiskarcError('EINTERNAL', `zstd worker failed: ${e.message}`, {}, { cause: e });
}
