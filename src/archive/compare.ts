// Compares two block sources byte for byte and reports the first differing offset — pack's
// read-back check and `verify STREAM INPUT`. Only ranges where either side reports data are read
// (both sides read as zeros elsewhere); the next window is read while the current one is compared.
import type { BlockSource, Extent } from '../block/source.js';
import { DiskarcError } from '../errors.js';

const WINDOW = 8 * 1024 * 1024;

export interface CompareOptions {
  signal?: AbortSignal;
  onProgress?: (done: number) => void;
  /** The error message for a difference at `offset`. */
  describe: (offset: number) => string;
}

/** The union of the data ranges of two extent lists, merged and in order. */
export function dataUnion(a: Extent[], b: Extent[]): Array<{ offset: number; length: number }> {
  const ranges = [...a, ...b].filter((e) => e.kind === 'data').sort((x, y) => x.offset - y.offset);
  const out: Array<{ offset: number; length: number }> = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else out.push({ offset: r.offset, length: r.length });
  }
  return out;
}

type Pieces = Array<{ offset: number; a: Buffer; b: Buffer }>;

async function readWindow(a: BlockSource, b: BlockSource, offset: number, length: number): Promise<Pieces> {
  const [ea, eb] = await Promise.all([a.extents(offset, length), b.extents(offset, length)]);
  return Promise.all(dataUnion(ea, eb).map(async (r) => {
    const [x, y] = await Promise.all([a.read(r.offset, r.length), b.read(r.offset, r.length)]);
    return { offset: r.offset, a: x, b: y };
  }));
}

export async function compareSources(a: BlockSource, b: BlockSource, opts: CompareOptions): Promise<void> {
  if (a.size !== b.size) {
    throw new DiskarcError('EMISMATCH', opts.describe(Math.min(a.size, b.size)) + ` (sizes differ: ${a.size} vs ${b.size})`, { offset: Math.min(a.size, b.size) });
  }
  const win = (off: number) => readWindow(a, b, off, Math.min(WINDOW, a.size - off));
  let next = a.size > 0 ? win(0) : undefined;
  for (let off = 0; off < a.size; off += WINDOW) {
    const pieces = await next!;
    const nextOff = off + WINDOW;
    next = nextOff < a.size ? win(nextOff) : undefined;
    next?.catch(() => undefined); // surfaced when awaited
    if (opts.signal?.aborted) throw new DiskarcError('EINTR', 'interrupted');
    for (const p of pieces) {
      if (!p.a.equals(p.b)) {
        let i = 0;
        while (p.a[i] === p.b[i]) i++;
        throw new DiskarcError('EMISMATCH', opts.describe(p.offset + i), { offset: p.offset + i });
      }
    }
    opts.onProgress?.(Math.min(a.size, off + WINDOW));
  }
}
