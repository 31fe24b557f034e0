// Every on-disk record of the archive, declared once as field tables (docs/format.md mirrors
// them section by section). Readers and writers both go through encode*/decode* here.
// All integers are little-endian.

export interface Field {
  offset: number;
  size: 1 | 2 | 4 | 8;
}

function readField(buf: Buffer, base: number, f: Field): number {
  const at = base + f.offset;
  switch (f.size) {
    case 1: return buf.readUInt8(at);
    case 2: return buf.readUInt16LE(at);
    case 4: return buf.readUInt32LE(at);
    case 8: {
      const v = buf.readBigUInt64LE(at);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`64-bit field at ${at} exceeds 2^53`);
      return Number(v);
    }
  }
}

function writeField(buf: Buffer, base: number, f: Field, value: number): void {
  const at = base + f.offset;
  switch (f.size) {
    case 1: buf.writeUInt8(value, at); break;
    case 2: buf.writeUInt16LE(value, at); break;
    case 4: buf.writeUInt32LE(value >>> 0, at); break;
    case 8: buf.writeBigUInt64LE(BigInt(value), at); break;
  }
}

/** A fixed-size record: a table of named fields plus generic encode/decode over it. */
export class RecordLayout<K extends string> {
  constructor(readonly name: string, readonly size: number, readonly fields: Record<K, Field>) {}

  decode(buf: Buffer, base = 0): Record<K, number> {
    const out = {} as Record<K, number>;
    for (const k in this.fields) out[k] = readField(buf, base, this.fields[k]);
    return out;
  }

  encode(values: Record<K, number>, buf: Buffer = Buffer.alloc(this.size), base = 0): Buffer {
    for (const k in this.fields) writeField(buf, base, this.fields[k], values[k]);
    return buf;
  }

  get(buf: Buffer, base: number, key: K): number {
    return readField(buf, base, this.fields[key]);
  }
}

/** format.md §2 — header at the start of every slab-structured file (data, hashes, stream map). */
export const FILE_MAGIC = 0x42414c534b534944n; // "DISKSLAB" read as u64 LE
export const FILE_VERSION = 1;
export const enum FileContent { Data = 1, Hashes = 2, StreamMap = 3, StreamMapIndex = 4 }
export const fileHeader = new RecordLayout('slab file header', 16, {
  magicLo: { offset: 0, size: 4 },
  magicHi: { offset: 4, size: 4 },
  version: { offset: 8, size: 4 },
  content: { offset: 12, size: 2 },
  flags: { offset: 14, size: 2 },
});

/** format.md §3 — header before each slab's payload. */
export const SLAB_MAGIC = 0x42414c53; // "SLAB"
export const SLAB_FLAG_ZSTD = 1;
export const slabHeader = new RecordLayout('slab header', 24, {
  magic: { offset: 0, size: 4 },
  flags: { offset: 4, size: 4 },
  storedLength: { offset: 8, size: 4 },
  length: { offset: 12, size: 4 },
  payloadCrc: { offset: 16, size: 4 },
  headerCrc: { offset: 20, size: 4 }, // CRC-32 of bytes 0..19, so a torn header is recognised
});

/** format.md §4 — one record per chunk in a hash slab, in chunk order (index = position). */
export const hashRecord = new RecordLayout('chunk hash record', 40, {
  // bytes 0..31: SHA-256 of the chunk (read as a slice, not a field)
  offset: { offset: 32, size: 4 },
  length: { offset: 36, size: 4 },
});
export const HASH_BYTES = 32;

/** format.md §5 — one stream-map entry (extent). */
export const enum ExtentType { Data = 1, Fill = 2, Unmapped = 3 }
export const mapEntry = new RecordLayout('stream map entry', 32, {
  offset: { offset: 0, size: 8 },
  length: { offset: 8, size: 8 },
  type: { offset: 16, size: 1 },
  fillByte: { offset: 17, size: 1 },
  // 18..19 reserved, zero
  slab: { offset: 20, size: 4 },
  slabOffset: { offset: 24, size: 4 },
  chunk: { offset: 28, size: 4 },
});

/** format.md §5 — stream map index: one record per map page, sorted by first offset. */
export const mapIndexRecord = new RecordLayout('stream map index record', 16, {
  firstOffset: { offset: 0, size: 8 },
  filePosition: { offset: 8, size: 8 },
});
