// Partition-table structures on the shared binary codec (src/binary): each is a table of named
// fields (offset, type), declared once with `partitionLayout` beside the spec section it comes
// from. A field that would run past the buffer is an EFS error naming the structure.
import { DiskarcError } from '../../src/errors.js';
import { BinaryTable, placed, type DecodeFailure, type PlacedField, type Values } from '../../src/binary/table.js';

export type Decoded<L> = L extends BinaryTable<infer V> ? V : never;

/** The table of a partition-table structure; `name` is what errors call it when decode is not told. */
export function partitionLayout<const F extends Readonly<Record<string, PlacedField>>>(name: string, fields: F): BinaryTable<Values<F>> {
  return new BinaryTable(name, placed(fields), efsFailure);
}

function efsFailure(f: DecodeFailure): DiskarcError {
  if (f.kind === 'bounds') {
    return new DiskarcError(
      'EFS',
      `${f.structure} is truncated: needs ${f.needed} bytes at ${f.at}, only ${Math.max(0, f.length - f.at)} available`,
      { structure: f.structure },
    );
  }
  return new DiskarcError('EFS', `${f.structure} is corrupt: field ${f.field} (${f.hex}) is out of range`, {
    structure: f.structure,
    field: f.field,
  });
}

/** Size in bytes a layout covers (the end of its last field). */
export function layoutSize(layout: { readonly size: number }): number {
  return layout.size;
}

/**
 * Decodes every field of `layout` from `buf` at `base` (the call-site form of layout.decode).
 * `what` names the structure in errors ("GPT header at LBA 1").
 */
export function decode<V extends Record<string, unknown>>(buf: Buffer, layout: BinaryTable<V>, base: number, what: string): V {
  return layout.decode(buf, base, what);
}

/** A 64-bit sector number times the sector size, as a byte offset; EFS when it cannot be one. */
export function lbaToBytes(lba: bigint, sectorSize: number, what: string): number {
  const bytes = lba * BigInt(sectorSize);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DiskarcError('EFS', `${what}: sector ${lba} is beyond any supported disk size`, { lba: lba.toString() });
  }
  return Number(bytes);
}
