// Worker-thread side of ZstdPool: compresses one slab per message, so pack's slab compression
// runs on other cores. Input and output live in memory shared with the main thread (the pool's
// callers own both): nothing is copied across threads or allocated per slab here.
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

export interface ZstdJob {
  id: number;
  /** Bytes to compress and the buffer the frame is written to (≥ compressBound), both shared. */
  src: Uint8Array;
  dst: Uint8Array;
  level: number;
}

export type ZstdResult = { id: number; length: number } | { id: number; error: string };

interface CCtx {
  compress(dst: Uint8Array, src: Uint8Array, level: number): number;
}

// zstd-napi's binding (its high-level Compressor allocates a new output buffer per call).
const binding = createRequire(import.meta.url)('zstd-napi/binding.js') as { CCtx: new () => CCtx };
const cctx = new binding.CCtx();

parentPort!.on('message', (job: ZstdJob) => {
  try {
    parentPort!.postMessage({ id: job.id, length: cctx.compress(job.dst, job.src, job.level) } satisfies ZstdResult);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: (e as Error).message } satisfies ZstdResult);
  }
});
