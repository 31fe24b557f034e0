// $ATTRIBUTE_LIST entries (libfsntfs "Attribute list"): where each attribute of a file that
// overflowed its base record lives — which extension record, and from which VCN on.
import { corrupt, decode, ntfsLayout, readName } from './layout.js';

export const AttributeListEntryLayout = ntfsLayout('$ATTRIBUTE_LIST entry', {
  type: { offset: 0, type: 'u32le' },
  length: { offset: 4, type: 'u16le' },
  nameLength: { offset: 6, type: 'u8' },
  nameOffset: { offset: 7, type: 'u8' },
  firstVcn: { offset: 8, type: 'u64le' },
  record: { offset: 16, type: 'u48le' },
  sequence: { offset: 22, type: 'u16le' },
  id: { offset: 24, type: 'u16le' },
});

export interface AttributeListEntry {
  type: number;
  name: string;
  firstVcn: number;
  record: number;
  sequence: number;
  id: number;
}

/** Parses a whole $ATTRIBUTE_LIST value; entries are ≥ 26 bytes, so the walk is bounded. */
export function parseAttributeList(value: Buffer, baseRecord: number): AttributeListEntry[] {
  const what = `MFT record ${baseRecord} $ATTRIBUTE_LIST`;
  const out: AttributeListEntry[] = [];
  let pos = 0;
  while (pos + 26 <= value.length) {
    const e = decode(value, AttributeListEntryLayout, pos, what);
    if (e.length < 26 || pos + e.length > value.length) throw corrupt(what, `entry at offset ${pos} has invalid length ${e.length}`);
    const name = e.nameLength ? readName(value.subarray(pos, pos + e.length), e.nameOffset, e.nameLength, what) : '';
    out.push({ type: e.type, name, firstVcn: e.firstVcn, record: e.record, sequence: e.sequence, id: e.id });
    pos += e.length;
  }
  return out;
}
