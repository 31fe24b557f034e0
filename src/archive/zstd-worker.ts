// Worker-thread side of ZstdPool: compresses one buffer per message, so pack's slab compression
// runs on other cores.
import { parentPort } from 'node:worker_threads';
import { Compressor } from 'zstd-napi';

export interface ZstdJob {
  id: number;
  data: Uint8Array;
  level: number;
}

export type ZstdResult = { id: number; data: Uint8Array } | { id: number; error: string };

const compressors = new Map<number, Compressor>();

function compressorFor(level: number): Compressor {
  let c = compressors.get(level);
  if (!c) {
    c = new Compressor();
    c.setParameters({ compressionLevel: level });
    compressors.set(level, c);
  }
  return c;
}

parentPort!.on('message', (job: ZstdJob) => {
  try {
    const out = compressorFor(job.level).compress(job.data);
    // Hand the output over when it owns its whole ArrayBuffer; otherwise (a pooled or larger
    // buffer) copy it into one that can be transferred.
    const whole = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength && out.buffer instanceof ArrayBuffer;
    const data = whole ? out : Uint8Array.prototype.slice.call(out);
    parentPort!.postMessage({ id: job.id, data } satisfies ZstdResult, [data.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: (e as Error).message } satisfies ZstdResult);
  }
});
