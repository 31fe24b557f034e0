// A leaner dispatch of FUSE reads through fuse-native. Its generic handler wraps every operation
// in a bound signal, three argument spreads, a setTimeout watchdog and a process.nextTick before
// the reply; for reads — one per 128 KiB of a sequential pass — that wrapper was a large share of
// the event loop's time (docs/mount.md). This handler calls the same native entry points with the
// same arguments and sends the reply as soon as the read's callback runs.
import { createRequire } from 'node:module';

/** The parts of fuse-native's native binding a read uses (fuse-native.c: FUSE_METHOD(read, …)). */
interface FuseReadBinding {
  op_read: number;
  /** Wakes the libfuse thread waiting on `handler` with `result` (bytes, or -errno) and detaches `buffer`. */
  fuse_native_signal_read(handler: unknown, result: number, unused: number, buffer: ArrayBufferLike): void;
}

type ReadCallback = (result: number) => void;
export type FuseReadOp = (path: string, fh: number, buf: Buffer, len: number, pos: number, cb: ReadCallback) => void;
/** What fuse-native's native side calls for each read: (handler, opcode, path, fh, buf, len, offsetLow, offsetHigh). */
export type FuseReadHandler = (
  handler: unknown,
  op: number,
  path: string,
  fh: number,
  buf: Buffer,
  len: number,
  lo: number,
  hi: number,
) => void;

const EIO = -5;

let binding: FuseReadBinding | undefined;

/** fuse-native's binding — the very instance fuse-native loaded (node-gyp-build requires it through the module cache). */
export function fuseReadBinding(): FuseReadBinding {
  if (!binding) {
    const fromFuse = createRequire(createRequire(import.meta.url).resolve('fuse-native'));
    const load = fromFuse('node-gyp-build') as (dir: string) => FuseReadBinding;
    binding = load(fromFuse.resolve('./package.json').replace(/\/package\.json$/, ''));
  }
  return binding;
}

/**
 * The handler for fuse-native's handler table that runs `read` (fuse-native's `ops.read`
 * contract: call back once with the bytes read or a negative errno). The reply goes to libfuse
 * at once, and only once: a second callback would wake the thread's *next* request with a stale
 * result. A read that throws is answered with EIO rather than left waiting forever.
 */
export function directReadHandler(read: FuseReadOp, log: (msg: string) => void, b: FuseReadBinding = fuseReadBinding()): FuseReadHandler {
  return (handler, _op, path, fh, buf, len, lo, hi) => {
    let answered = false;
    const reply: ReadCallback = (result) => {
      if (answered) return;
      answered = true;
      b.fuse_native_signal_read(handler, result, 0, buf.buffer);
    };
    try {
      read(path, fh, buf, len, hi * 4294967296 + lo, reply);
    } catch (e) {
      log(`read ${path}: ${(e as Error)?.message ?? String(e)}`);
      reply(EIO);
    }
  };
}
