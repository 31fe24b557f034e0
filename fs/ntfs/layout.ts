// Declarative on-disk layouts for NTFS: each structure is a table of named fields (offset, type),
// declared once beside the spec section it comes from and decoded by one bounds-checked reader.
// A field past the buffer, or a 64-bit value beyond 2^53, is an EFS error naming the structure.
import { DiskarcError } from '../../src/errors.js';

/** `filetime` is a FILETIME (100 ns ticks since 1601) decoded to Unix milliseconds. */
export type FieldType = 'u8' | 'i8' | 'u16' | 'u32' | 'u48' | 'u64' | 'i64' | 'filetime';

export interface Field {
  readonly offset: number;
  readonly type: FieldType;
}

export type Layout = Readonly<Record<string, Field>>;
export type Decoded<L extends Layout> = { -readonly [K in keyof L]: number };

const widths: Record<FieldType, number> = { u8: 1, i8: 1, u16: 2, u32: 4, u48: 6, u64: 8, i64: 8, filetime: 8 };

/** Bytes a layout covers (end of its last field). */
export function layoutSize(layout: Layout): number {
  let end = 0;
  for (const f of Object.values(layout)) end = Math.max(end, f.offset + widths[f.type]);
  return end;
}

/** Throws EFS naming `what` unless [start, start+length) lies inside `buf`. */
export function requireBytes(buf: Buffer, start: number, length: number, what: string): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > buf.length) {
    throw new DiskarcError('EFS', `${what} is corrupt: needs bytes ${start}..${start + length} of a ${buf.length}-byte structure`, { structure: what });
  }
}

/** Decodes every field of `layout` from `buf` at `base`, as safe integers. */
export function decode<L extends Layout>(buf: Buffer, layout: L, base: number, what: string): Decoded<L> {
  requireBytes(buf, base, layoutSize(layout), what);
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(layout)) {
    const at = base + f.offset;
    switch (f.type) {
      case 'u8': out[name] = buf.readUInt8(at); break;
      case 'i8': out[name] = buf.readInt8(at); break;
      case 'u16': out[name] = buf.readUInt16LE(at); break;
      case 'u32': out[name] = buf.readUInt32LE(at); break;
      case 'u48': out[name] = buf.readUIntLE(at, 6); break;
      case 'u64': out[name] = safe(buf.readBigUInt64LE(at), what, name); break;
      case 'i64': out[name] = safe(buf.readBigInt64LE(at), what, name); break;
      case 'filetime': out[name] = Number(buf.readBigUInt64LE(at) / 10000n) - FILETIME_UNIX_EPOCH_MS; break;
    }
  }
  return out as Decoded<L>;
}

/** 1601-01-01 → 1970-01-01 in milliseconds. */
export const FILETIME_UNIX_EPOCH_MS = 11644473600000;

function safe(v: bigint, what: string, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DiskarcError('EFS', `${what} is corrupt: field ${field} (${v}) is out of range`, { structure: what, field });
  }
  return Number(v);
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
