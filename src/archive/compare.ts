// Compares two block sources byte for byte and reports the first differing offset — pack's
// read-back check and `verify STREAM INPUT`. Windows where both sides report only holes/zeros
// are skipped without reading; the next window is read while the current one is compared.
import type { BlockSource } from '../block/source.js';
import { DiskarcError } from '../errors.js';

const WINDOW = 8 * 1024 * 1024;

export interface CompareOptions {
  signal?: AbortSignal;
  onProgress?: (done: number) => void;
  /** The error message for a difference at `offset`. */
  describe: (offset: number) => string;
}

async function allZero(src: BlockSource, offset: number, length: number): Promise<boolean> {
  return (await src.extents(offset, length)).every((e) => e.kind !== 'data');
}

async function readWindow(a: BlockSource, b: BlockSource, offset: number, length: number): Promise<[Buffer, Buffer] | null> {
  const [za, zb] = await Promise.all([allZero(a, offset, length), allZero(b, offset, length)]);
  if (za && zb) return null;
  return Promise.all([a.read(offset, length), b.read(offset, length)]);
}

export async function compareSources(a: BlockSource, b: BlockSource, opts: CompareOptions): Promise<void> {
  if (a.size !== b.size) {
    throw new DiskarcError('EMISMATCH', opts.describe(Math.min(a.size, b.size)) + ` (sizes differ: ${a.size} vs ${b.size})`, { offset: Math.min(a.size, b.size) });
  }
  const win = (off: number) => readWindow(a, b, off, Math.min(WINDOW, a.size - off));
  let next = a.size > 0 ? win(0) : undefined;
  for (let off = 0; off < a.size; off += WINDOW) {
    const pair = await next!;
    const nextOff = off + WINDOW;
    next = nextOff < a.size ? win(nextOff) : undefined;
    next?.catch(() => undefined); // surfaced when awaited
    if (opts.signal?.aborted) throw new DiskarcError('EINTR', 'interrupted');
    if (pair && !pair[0].equals(pair[1])) {
      const [x, y] = pair;
      let i = 0;
      while (x[i] === y[i]) i++;
      throw new DiskarcError('EMISMATCH', opts.describe(off + i), { offset: off + i });
    }
    opts.onProgress?.(Math.min(a.size, off + WINDOW));
  }
}
