// Every on-disk record of the archive, declared once as field tables on the shared binary codec
// (src/binary); docs/format.md mirrors them section by section. Readers and writers both go
// through their decode/encode. All integers are little-endian; a record cut short or a 64-bit
// field beyond 2^53 is ECORRUPT naming the record.
import { DiskarcError } from '../errors.js';
import { BinaryTable, placed, type DecodeFailure, type PlacedField, type Values } from '../binary/table.js';

/** A fixed-size record of `size` bytes (reserved bytes included) and its fields. */
export class RecordLayout<const F extends Readonly<Record<string, PlacedField>>> extends BinaryTable<Values<F>> {
  constructor(name: string, size: number, fields: F) {
    super(name, placed(fields, size), corruptFailure);
  }
}

function corruptFailure(f: DecodeFailure): DiskarcError {
  if (f.kind === 'bounds') {
    return new DiskarcError('ECORRUPT', `${f.structure} is truncated: needs ${f.needed} bytes at ${f.at}, only ${Math.max(0, f.length - f.at)} available`, { structure: f.structure });
  }
  return new DiskarcError('ECORRUPT', `${f.structure} is corrupt: field ${f.field} (${f.hex}) exceeds 2^53`, { structure: f.structure, field: f.field });
}

/** format.md §2 — header at the start of every slab-structured file (data, hashes, stream map). */
export const FILE_MAGIC = 0x42414c534b534944n; // "DISKSLAB" read as u64 LE
export const FILE_VERSION = 1;
export const enum FileContent { Data = 1, Hashes = 2, StreamMap = 3, StreamMapIndex = 4 }
export const fileHeader = new RecordLayout('slab file header', 16, {
  magicLo: { offset: 0, type: 'u32le' },
  magicHi: { offset: 4, type: 'u32le' },
  version: { offset: 8, type: 'u32le' },
  content: { offset: 12, type: 'u16le' },
  flags: { offset: 14, type: 'u16le' },
});

/** format.md §3 — header before each slab's payload. */
export const SLAB_MAGIC = 0x42414c53; // "SLAB"
export const SLAB_FLAG_ZSTD = 1;
export const slabHeader = new RecordLayout('slab header', 24, {
  magic: { offset: 0, type: 'u32le' },
  flags: { offset: 4, type: 'u32le' },
  storedLength: { offset: 8, type: 'u32le' },
  length: { offset: 12, type: 'u32le' },
  payloadCrc: { offset: 16, type: 'u32le' },
  headerCrc: { offset: 20, type: 'u32le' }, // CRC-32 of bytes 0..19, so a torn header is recognised
});

/** format.md §4 — one record per chunk in a hash slab, in chunk order (index = position). */
export const hashRecord = new RecordLayout('chunk hash record', 40, {
  // bytes 0..31: SHA-256 of the chunk (read as a slice, not a field)
  offset: { offset: 32, type: 'u32le' },
  length: { offset: 36, type: 'u32le' },
});
export const HASH_BYTES = 32;

/** format.md §5 — one stream-map entry (extent). */
export const enum ExtentType { Data = 1, Fill = 2, Unmapped = 3 }
export const mapEntry = new RecordLayout('stream map entry', 32, {
  offset: { offset: 0, type: 'u64le' },
  length: { offset: 8, type: 'u64le' },
  type: { offset: 16, type: 'u8' },
  fillByte: { offset: 17, type: 'u8' },
  // 18..19 reserved, zero
  slab: { offset: 20, type: 'u32le' },
  slabOffset: { offset: 24, type: 'u32le' },
  chunk: { offset: 28, type: 'u32le' },
});

/** format.md §5 — stream map index: one record per map page, sorted by first offset. */
export const mapIndexRecord = new RecordLayout('stream map index record', 16, {
  firstOffset: { offset: 0, type: 'u64le' },
  filePosition: { offset: 8, type: 'u64le' },
});
