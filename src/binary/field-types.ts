// The one field-type vocabulary of every binary layout in diskarc (archive records, NBD messages,
// NTFS and partition-table structures): what each type name means on the wire or disk, how wide
// it is, and the JavaScript value it decodes to.

/**
 * Fixed-width types. Integers are unsigned unless `i`; `le`/`be` is the byte order.
 * - `u64le`, `u64be`, `i64le`: 64-bit values as safe numbers — decoding one beyond ±2^53 fails.
 * - `bigu64le`, `bigu64be`: 64-bit values as bigint, for fields that may exceed 2^53 (NBD
 *   cookies and offsets, GPT LBAs and attribute bits).
 * - `guid`: 16 bytes, the first three groups little-endian, the last two big-endian (UEFI
 *   appendix A), as upper-case text `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (as sgdisk prints).
 * - `filetime`: a little-endian FILETIME (100 ns ticks since 1601) as Unix milliseconds, rounded
 *   down, in exact integer arithmetic.
 */
export const FIXED_WIDTHS = {
  u8: 1,
  i8: 1,
  u16le: 2,
  u16be: 2,
  u32le: 4,
  u32be: 4,
  u48le: 6,
  u64le: 8,
  u64be: 8,
  i64le: 8,
  bigu64le: 8,
  bigu64be: 8,
  guid: 16,
  filetime: 8,
} as const;

export type FixedType = keyof typeof FIXED_WIDTHS;

/**
 * Types whose width the field declares (`size` bytes): `bytes` decodes to a view of the buffer
 * (not a copy); `ascii` (bytes as Latin-1) and `utf16le` stop at the first NUL and are padded
 * with NULs when encoded.
 */
export type SizedType = 'bytes' | 'ascii' | 'utf16le';

export type FieldType = FixedType | SizedType;

/** A field of an explicit-offset table (disk structures). */
export type PlacedField =
  | { readonly offset: number; readonly type: FixedType }
  | { readonly offset: number; readonly type: SizedType; readonly size: number };

/** A field of a sequential table (wire messages): its type, or a sized type with its size. */
export type SequencedField = FixedType | { readonly type: SizedType; readonly size: number };

export type ValueOf<T extends FieldType> = T extends 'bigu64le' | 'bigu64be'
  ? bigint
  : T extends 'bytes'
    ? Buffer
    : T extends 'guid' | 'ascii' | 'utf16le'
      ? string
      : number;

type TypeOf<F> = F extends { readonly type: infer T extends FieldType } ? T : F extends FieldType ? F : never;

/** The decoded record of a table whose fields are `F` (either kind of table). */
export type Values<F> = { -readonly [K in keyof F]: ValueOf<TypeOf<F[K]>> };

export function isFixedType(type: string): type is FixedType {
  return Object.hasOwn(FIXED_WIDTHS, type);
}

/** Bytes a field covers: its type's width, or the size a sized type declares. */
export function fieldWidth(type: FieldType, size: number | undefined): number {
  return isFixedType(type) ? FIXED_WIDTHS[type] : (size as number);
}
