// Compares two block sources byte for byte and reports the first differing offset — pack's
// read-back check and `verify STREAM INPUT`. Only ranges where either side reports data are read
// (both sides read as zeros elsewhere); the next window is read while the current one is compared.
// The first side is borrowed (a stream lends its slabs, decoded into reused buffers, uncached):
// a read-once pass costs a few windows of memory, not a cache's worth.
import { borrowParts } from '../block/parts.js';
import type { BlockSource, BorrowedParts, Extent } from '../block/source.js';
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

type Pieces = Array<{ offset: number; a: BorrowedParts; b: Buffer }>;

async function readWindow(a: BlockSource, b: BlockSource, offset: number, length: number): Promise<Pieces> {
  const [ea, eb] = await Promise.all([a.extents(offset, length), b.extents(offset, length)]);
  const reads = dataUnion(ea, eb).map(async (r) => {
    const [x, y] = await Promise.all([borrowParts(a, r.offset, r.length), b.read(r.offset, r.length)]);
    return { offset: r.offset, a: x, b: y };
  });
  const settled = await Promise.allSettled(reads);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    releaseAll(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])));
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<Pieces[number]>).value);
}

function releaseAll(pieces: Pieces): void {
  for (const p of pieces) p.a.release();
}

/** Offset within `b` of the first byte where `parts` (tiling b's length) differ, or -1. */
function firstDifference(parts: readonly Buffer[], b: Buffer): number {
  let pos = 0;
  for (const part of parts) {
    if (!part.equals(b.subarray(pos, pos + part.length))) {
      let i = 0;
      while (part[i] === b[pos + i]) i++;
      return pos + i;
    }
    pos += part.length;
  }
  return -1;
}

export async function compareSources(a: BlockSource, b: BlockSource, opts: CompareOptions): Promise<void> {
  if (a.size !== b.size) {
    throw new DiskarcError('EMISMATCH', opts.describe(Math.min(a.size, b.size)) + ` (sizes differ: ${a.size} vs ${b.size})`, { offset: Math.min(a.size, b.size) });
  }
  const win = (off: number) => readWindow(a, b, off, Math.min(WINDOW, a.size - off));
  let next = a.size > 0 ? win(0) : undefined;
  try {
    for (let off = 0; off < a.size; off += WINDOW) {
      const current = next!;
      next = undefined;
      const pieces = await current;
      try {
        const nextOff = off + WINDOW;
        next = nextOff < a.size ? win(nextOff) : undefined;
        next?.catch(() => undefined); // surfaced when awaited
        if (opts.signal?.aborted) throw new DiskarcError('EINTR', 'interrupted');
        for (const p of pieces) {
          const at = firstDifference(p.a.parts, p.b);
          if (at >= 0) throw new DiskarcError('EMISMATCH', opts.describe(p.offset + at), { offset: p.offset + at });
        }
      } finally {
        releaseAll(pieces);
      }
      opts.onProgress?.(Math.min(a.size, off + WINDOW));
    }
  } finally {
    // A window read ahead and not compared (an error or a difference) still gives its slabs back.
    await next?.then(releaseAll, () => undefined);
  }
}
