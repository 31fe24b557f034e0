// The Range header (RFC 9110 §14, formerly RFC 7233) against a representation of known size:
// single, multiple, suffix (-N) and open-ended (N-) ranges. Pure: the server turns the answer
// into 200, 206 or 416.

export interface ByteRange {
  /** First byte. */
  start: number;
  /** Last byte, inclusive (as Content-Range writes it). */
  end: number;
}

export type RangeAnswer =
  /** No usable Range header: send the whole representation. */
  | { kind: 'whole' }
  /** Every range starts past the end: 416 with Content-Range: bytes *\/size. */
  | { kind: 'unsatisfiable' }
  /** Satisfiable ranges, sorted and with overlapping or touching ones merged. */
  | { kind: 'ranges'; ranges: ByteRange[] };

/** More ranges than this (after merging) are answered with the whole file, as RFC 9110 permits. */
export const MAX_RANGES = 64;

export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  // Another unit, or garbage: a server ignores a Range it does not understand.
  if (!m) return { kind: 'whole' };
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0 || specs.length > 4 * MAX_RANGES) return { kind: 'whole' };
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return { kind: 'whole' };
    if (r[1] === '') {
      const n = Number(r[2]);
      if (!Number.isSafeInteger(n)) return { kind: 'whole' };
      if (n === 0 || size === 0) continue; // a zero-length suffix selects nothing
      ranges.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(r[1]);
    const last = r[2] === '' ? Infinity : Number(r[2]);
    if (!Number.isSafeInteger(start) || (r[2] !== '' && !Number.isSafeInteger(last))) return { kind: 'whole' };
    if (last < start) return { kind: 'whole' }; // invalid spec: the whole header is ignored
    if (start >= size) continue;
    ranges.push({ start, end: Math.min(last, size - 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  ranges.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [ranges[0]!];
  for (const r of ranges.slice(1)) {
    const top = merged[merged.length - 1]!;
    if (r.start <= top.end + 1) top.end = Math.max(top.end, r.end);
    else merged.push({ ...r });
  }
  if (merged.length > MAX_RANGES) return { kind: 'whole' };
  return { kind: 'ranges', ranges: merged };
}
