// Reading a range as a list of buffers instead of one: sources that hold decompressed data in a
// cache (StreamReader) hand out views of it, so a server can write those straight to a socket
// without allocating and copying a reply buffer per request.
import type { BlockSource, BorrowedParts } from './source.js';

/**
 * The bytes of [offset, offset+length) as buffers in order (lengths sum to `length`). Uses the
 * source's `readv` when it has one — then buffers may be shared with its cache and must not be
 * modified — and otherwise one `read`.
 */
export async function readParts(source: BlockSource, offset: number, length: number): Promise<Buffer[]> {
  if (source.readv) return source.readv(offset, length);
  return [await source.read(offset, length)];
}

/**
 * The bytes of [offset, offset+length) lent until `release()` (see BlockSource.borrowv); sources
 * without borrowv give readParts' buffers, whose release does nothing.
 */
export async function borrowParts(source: BlockSource, offset: number, length: number): Promise<BorrowedParts> {
  if (source.borrowv) return source.borrowv(offset, length);
  return { parts: await readParts(source, offset, length), release: () => {} };
}

/** One shared zero buffer that readv implementations hand out views of (callers never modify them). */
const ZEROS = Buffer.alloc(1024 * 1024);

/** `length` zero bytes as views of a shared buffer, appended to `out` (no allocation per read). */
export function pushZeroParts(out: Buffer[], length: number): Buffer[] {
  for (let n = 0; n < length; n += ZEROS.length) out.push(ZEROS.subarray(0, Math.min(ZEROS.length, length - n)));
  return out;
}

/** The sub-list of `parts` covering bytes [from, to) of their concatenation (views, no copies). */
export function sliceParts(parts: readonly Buffer[], from: number, to: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (const p of parts) {
    if (pos >= to) break;
    const s = Math.max(0, from - pos);
    const e = Math.min(p.length, to - pos);
    if (e > s) out.push(p.subarray(s, e));
    pos += p.length;
  }
  return out;
}

/** Copies `parts` into `dest` at `at`, one after another; returns the bytes copied. */
export function copyParts(parts: readonly Buffer[], dest: Buffer, at = 0): number {
  let pos = at;
  for (const p of parts) pos += p.copy(dest, pos);
  return pos - at;
}
