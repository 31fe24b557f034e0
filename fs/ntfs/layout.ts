// NTFS structures on the shared binary codec (src/binary): each is a table of named fields
// (offset, type), declared once beside the spec section it comes from with `ntfsLayout`. A field
// past the buffer, or a 64-bit value beyond 2^53, is an EFS error naming the structure.
import { DiskarcError } from '../../src/errors.js';
import { BinaryTable, placed, type DecodeFailure, type PlacedField, type Values } from '../../src/binary/table.js';

/** 1601-01-01 → 1970-01-01 in milliseconds (`filetime` fields are decoded with it). */
export { FILETIME_UNIX_EPOCH_MS } from '../../src/binary/filetime.js';

/** The table of an NTFS structure; `name` is what errors call it when decode is not told. */
export function ntfsLayout<const F extends Readonly<Record<string, PlacedField>>>(name: string, fields: F): BinaryTable<Values<F>> {
  return new BinaryTable(name, placed(fields), efsFailure);
}

function efsFailure(f: DecodeFailure): DiskarcError {
  if (f.kind === 'bounds') return truncated(f.structure, f.at, f.needed, f.length);
  return corrupt(f.structure, `field ${f.field} (${f.hex}) is out of range`, { field: f.field });
}

function truncated(what: string, start: number, length: number, size: number): DiskarcError {
  return new DiskarcError('EFS', `${what} is corrupt: needs bytes ${start}..${start + length} of a ${size}-byte structure`, {
    structure: what,
  });
}

/** Decodes every field of `layout` from `buf` at `base` (the structures' call-site form of layout.decode). */
export function decode<V extends Record<string, unknown>>(buf: Buffer, layout: BinaryTable<V>, base: number, what: string): V {
  return layout.decode(buf, base, what);
}

/** Throws EFS naming `what` unless [start, start+length) lies inside `buf`. */
export function requireBytes(buf: Buffer, start: number, length: number, what: string): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > buf.length) {
    throw truncated(what, start, length, buf.length);
  }
}

/** An EFS error for a structure that decodes but makes no sense. */
export function corrupt(what: string, problem: string, details: Record<string, unknown> = {}): DiskarcError {
  return new DiskarcError('EFS', `${what} is corrupt: ${problem}`, { structure: what, ...details });
}

/** UTF-16LE name of `units` code units at `at`, bounds-checked. */
export function readName(buf: Buffer, at: number, units: number, what: string): string {
  requireBytes(buf, at, units * 2, what);
  return buf.toString('utf16le', at, at + units * 2);
}
