// Attribute headers (libfsntfs "MFT attribute"): walks the attributes of one MFT record and
// decodes each header, resident value or non-resident runlist, bounds-checked against the record.
import { corrupt, decode, ntfsLayout, readName, requireBytes } from './layout.js';
import { decodeRunlist, type Run } from './runlist.js';

export const AttributeType = {
  STANDARD_INFORMATION: 0x10,
  ATTRIBUTE_LIST: 0x20,
  FILE_NAME: 0x30,
  OBJECT_ID: 0x40,
  SECURITY_DESCRIPTOR: 0x50,
  VOLUME_NAME: 0x60,
  VOLUME_INFORMATION: 0x70,
  DATA: 0x80,
  INDEX_ROOT: 0x90,
  INDEX_ALLOCATION: 0xa0,
  BITMAP: 0xb0,
  REPARSE_POINT: 0xc0,
  END: 0xffffffff,
} as const;

export const AttributeFlags = { COMPRESSED: 0x0001, ENCRYPTED: 0x4000, SPARSE: 0x8000 } as const;

/** Header common to all attributes. */
export const AttributeHeaderLayout = ntfsLayout('attribute header', {
  type: { offset: 0, type: 'u32le' },
  length: { offset: 4, type: 'u32le' },
  nonResident: { offset: 8, type: 'u8' },
  nameLength: { offset: 9, type: 'u8' },
  nameOffset: { offset: 10, type: 'u16le' },
  flags: { offset: 12, type: 'u16le' },
  id: { offset: 14, type: 'u16le' },
});

export const ResidentLayout = ntfsLayout('resident attribute header', {
  valueLength: { offset: 16, type: 'u32le' },
  valueOffset: { offset: 20, type: 'u16le' },
});

export const NonResidentLayout = ntfsLayout('non-resident attribute header', {
  firstVcn: { offset: 16, type: 'u64le' },
  lastVcn: { offset: 24, type: 'i64le' },
  runlistOffset: { offset: 32, type: 'u16le' },
  compressionUnit: { offset: 34, type: 'u16le' },
  allocatedSize: { offset: 40, type: 'u64le' },
  dataSize: { offset: 48, type: 'u64le' },
  validDataSize: { offset: 56, type: 'u64le' },
});

export interface Attribute {
  type: number;
  name: string;
  flags: number;
  id: number;
  /** MFT record the header was read from (base or extension record). */
  record: number;
  resident: boolean;
  /** Resident value (a copy-free view of the record buffer). */
  value?: Buffer;
  firstVcn: number;
  lastVcn: number;
  /** log2 of clusters per compression unit (0 = not compressed). */
  compressionUnit: number;
  allocatedSize: number;
  dataSize: number;
  validDataSize: number;
  runs: Run[];
}

/**
 * Decodes the attributes of a fixed-up MFT record starting at `firstOffset` and ending within `usedSize`.
 * Each attribute must have length ≥ 24 and fit, so the walk is bounded by the record size.
 */
export function parseAttributes(
  rec: Buffer,
  firstOffset: number,
  usedSize: number,
  recordNumber: number,
  totalClusters: number,
): Attribute[] {
  const what = `MFT record ${recordNumber}`;
  const out: Attribute[] = [];
  let pos = firstOffset;
  for (;;) {
    requireBytes(rec, pos, 4, `${what} attribute list`);
    if (rec.readUInt32LE(pos) === AttributeType.END) break;
    const h = decode(rec, AttributeHeaderLayout, pos, `${what} attribute at offset ${pos}`);
    const at = `${what} attribute 0x${h.type.toString(16)} at offset ${pos}`;
    if (h.length < 24 || h.length % 8 !== 0 || pos + h.length > usedSize) throw corrupt(at, `length ${h.length} is invalid`);
    const attr = rec.subarray(pos, pos + h.length);
    const name = h.nameLength ? readName(attr, h.nameOffset, h.nameLength, at) : '';
    if (h.nonResident === 0) {
      const r = decode(attr, ResidentLayout, 0, at);
      requireBytes(attr, r.valueOffset, r.valueLength, `${at} value`);
      const value = attr.subarray(r.valueOffset, r.valueOffset + r.valueLength);
      // Object literals, not spreads: V8's object spread is far slower here (docs/bench.md), and this runs per attribute.
      out.push({
        type: h.type,
        name,
        flags: h.flags,
        id: h.id,
        record: recordNumber,
        resident: true,
        value,
        firstVcn: 0,
        lastVcn: -1,
        compressionUnit: 0,
        allocatedSize: value.length,
        dataSize: value.length,
        validDataSize: value.length,
        runs: [],
      });
    } else if (h.nonResident === 1) {
      const n = decode(attr, NonResidentLayout, 0, at);
      if (n.lastVcn < n.firstVcn - 1) throw corrupt(at, `VCN range ${n.firstVcn}..${n.lastVcn} is invalid`);
      if (n.compressionUnit > 16) throw corrupt(at, `compression unit 2^${n.compressionUnit} is invalid`);
      const runs = decodeRunlist(attr, n.runlistOffset, attr.length, n.firstVcn, totalClusters, `${at} runlist`);
      const covered = runs.length ? runs[runs.length - 1].vcn + runs[runs.length - 1].length : n.firstVcn;
      if (covered !== n.lastVcn + 1) throw corrupt(at, `runlist covers VCNs ${n.firstVcn}..${covered - 1}, header says ..${n.lastVcn}`);
      if (n.firstVcn === 0 && (n.validDataSize > n.dataSize || n.dataSize > n.allocatedSize)) {
        throw corrupt(at, `sizes are inconsistent (valid ${n.validDataSize}, data ${n.dataSize}, allocated ${n.allocatedSize})`);
      }
      out.push({
        type: h.type,
        name,
        flags: h.flags,
        id: h.id,
        record: recordNumber,
        resident: false,
        firstVcn: n.firstVcn,
        lastVcn: n.lastVcn,
        compressionUnit: n.compressionUnit,
        allocatedSize: n.allocatedSize,
        dataSize: n.dataSize,
        validDataSize: n.validDataSize,
        runs,
      });
    } else {
      throw corrupt(at, `non-resident flag ${h.nonResident} is invalid`);
    }
    pos += h.length;
  }
  return out;
}
