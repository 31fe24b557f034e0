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
  return compiled(layout).size;
}

/** Throws EFS naming `what` unless [start, start+length) lies inside `buf`. */
export function requireBytes(buf: Buffer, start: number, length: number, what: string): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > buf.length) {
    throw new DiskarcError('EFS', `${what} is corrupt: needs bytes ${start}..${start + length} of a ${buf.length}-byte structure`, { structure: what });
  }
}

interface Compiled {
  size: number;
  fields: Array<[string, number, FieldType]>;
}

// Layouts are module constants: their field lists are computed once (decode runs per record and entry).
const compiledLayouts = new WeakMap<Layout, Compiled>();
function compiled(layout: Layout): Compiled {
  let c = compiledLayouts.get(layout);
  if (!c) {
    const fields = Object.entries(layout).map(([name, f]) => [name, f.offset, f.type] as [string, number, FieldType]);
    c = { size: Math.max(0, ...fields.map(([, o, t]) => o + widths[t])), fields };
    compiledLayouts.set(layout, c);
  }
  return c;
}

const TWO32 = 2 ** 32;

/** Decodes every field of `layout` from `buf` at `base`, as safe integers. */
export function decode<L extends Layout>(buf: Buffer, layout: L, base: number, what: string): Decoded<L> {
  const c = compiled(layout);
  requireBytes(buf, base, c.size, what);
  const out: Record<string, number> = {};
  for (const [name, offset, type] of c.fields) {
    const at = base + offset;
    switch (type) {
      case 'u8': out[name] = buf[at]; break;
      case 'i8': out[name] = buf.readInt8(at); break;
      case 'u16': out[name] = buf.readUInt16LE(at); break;
      case 'u32': out[name] = buf.readUInt32LE(at); break;
      case 'u48': out[name] = buf.readUIntLE(at, 6); break;
      case 'u64': out[name] = safe(buf.readUInt32LE(at + 4), buf.readUInt32LE(at), what, name); break;
      case 'i64': out[name] = safe(buf.readInt32LE(at + 4), buf.readUInt32LE(at), what, name); break;
      case 'filetime': {
        // ticks / 10000 exactly, without BigInt: 2^32 = 429496 * 10000 + 7296.
        const hi = buf.readUInt32LE(at + 4);
        out[name] = hi * 429496 + Math.floor((hi * 7296 + buf.readUInt32LE(at)) / 10000) - FILETIME_UNIX_EPOCH_MS;
        break;
      }
    }
  }
  return out as Decoded<L>;
}

/** 1601-01-01 → 1970-01-01 in milliseconds. */
export const FILETIME_UNIX_EPOCH_MS = 11644473600000;

/** hi * 2^32 + lo, or EFS when it is not a safe integer (|value| ≥ 2^53). */
function safe(hi: number, lo: number, what: string, field: string): number {
  if (hi >= 0x200000 || hi <= -0x200000) {
    throw new DiskarcError('EFS', `${what} is corrupt: field ${field} (0x${(hi >>> 0).toString(16)}${lo.toString(16).padStart(8, '0')}) is out of range`, { structure: what, field });
  }
  return hi * TWO32 + lo;
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
