// Declarative on-disk layouts: each structure is a table of named fields (offset, size, type),
// declared once beside the spec section it comes from, and decoded by one bounds-checked reader.
// A field that would run past the buffer is an EFS error naming the structure, never a RangeError.
import { DiskarcError } from '../../src/errors.js';
import { formatGuid } from './guid.js';

export type FieldType = 'u8' | 'u16le' | 'u32le' | 'u64le' | 'bytes' | 'guid' | 'ascii' | 'utf16le';

export interface FieldSpec {
  readonly offset: number;
  readonly size: number;
  readonly type: FieldType;
}

export type Layout = Readonly<Record<string, FieldSpec>>;

type ValueOf<T extends FieldType> = T extends 'u64le' ? bigint : T extends 'bytes' ? Buffer : T extends 'guid' | 'ascii' | 'utf16le' ? string : number;

export type Decoded<L extends Layout> = { -readonly [K in keyof L]: ValueOf<L[K]['type']> };

/** Size in bytes a layout covers (the end of its last field). */
export function layoutSize(layout: Layout): number {
  return Math.max(...Object.values(layout).map((f) => f.offset + f.size));
}

/**
 * Decodes every field of `layout` from `buf` at `base`. `what` names the structure in errors
 * ("GPT header at LBA 1"). Strings stop at the first NUL; GUIDs come out in the usual
 * mixed-endian text form, upper case (as sfdisk and sgdisk print them).
 */
export function decode<L extends Layout>(buf: Buffer, layout: L, base: number, what: string): Decoded<L> {
  const end = base + layoutSize(layout);
  if (!Number.isSafeInteger(base) || base < 0 || end > buf.length) {
    throw new DiskarcError('EFS', `${what} is truncated: needs ${end - base} bytes at ${base}, only ${Math.max(0, buf.length - base)} available`, { structure: what });
  }
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(layout)) {
    const at = base + f.offset;
    switch (f.type) {
      case 'u8': out[name] = buf.readUInt8(at); break;
      case 'u16le': out[name] = buf.readUInt16LE(at); break;
      case 'u32le': out[name] = buf.readUInt32LE(at); break;
      case 'u64le': out[name] = buf.readBigUInt64LE(at); break;
      case 'bytes': out[name] = buf.subarray(at, at + f.size); break;
      case 'guid': out[name] = formatGuid(buf.subarray(at, at + 16)); break;
      case 'ascii': out[name] = cString(buf.toString('latin1', at, at + f.size)); break;
      case 'utf16le': out[name] = utf16Name(buf.subarray(at, at + f.size)); break;
    }
  }
  return out as Decoded<L>;
}

function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

function utf16Name(bytes: Buffer): string {
  let units = Math.floor(bytes.length / 2);
  for (let i = 0; i < units; i++) {
    if (bytes.readUInt16LE(i * 2) === 0) {
      units = i;
      break;
    }
  }
  return bytes.toString('utf16le', 0, units * 2);
}

/** A 64-bit sector number times the sector size, as a byte offset; EFS when it cannot be one. */
export function lbaToBytes(lba: bigint, sectorSize: number, what: string): number {
  const bytes = lba * BigInt(sectorSize);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DiskarcError('EFS', `${what}: sector ${lba} is beyond any supported disk size`, { lba: lba.toString() });
  }
  return Number(bytes);
}
