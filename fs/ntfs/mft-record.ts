// One MFT record ("FILE" entry, libfsntfs "MFT entry"): header, fixups and its attributes.
// Pure: takes the raw record bytes, returns the decoded record or an EFS error naming it.
import { applyFixups } from './fixups.js';
import { corrupt, decode, ntfsLayout } from './layout.js';
import { parseAttributes, type Attribute } from './attribute.js';

export const MftRecordLayout = ntfsLayout('MFT record header', {
  sequence: { offset: 16, type: 'u16le' },
  linkCount: { offset: 18, type: 'u16le' },
  firstAttributeOffset: { offset: 20, type: 'u16le' },
  flags: { offset: 22, type: 'u16le' },
  usedSize: { offset: 24, type: 'u32le' },
  allocatedSize: { offset: 28, type: 'u32le' },
  baseRecord: { offset: 32, type: 'u48le' },
  baseSequence: { offset: 38, type: 'u16le' },
  nextAttributeId: { offset: 40, type: 'u16le' },
});

export const MftRecordFlags = { IN_USE: 0x1, DIRECTORY: 0x2 } as const;

export interface MftRecord {
  number: number;
  sequence: number;
  linkCount: number;
  flags: number;
  inUse: boolean;
  isDirectory: boolean;
  /** Base record number, or 0 when this is itself a base record. */
  baseRecord: number;
  attributes: Attribute[];
}

/** Decodes record `number` from `raw` (modified in place by fixups). */
export function parseMftRecord(raw: Buffer, number: number, totalClusters: number): MftRecord {
  const what = `MFT record ${number}`;
  applyFixups(raw, 'FILE', what);
  const h = decode(raw, MftRecordLayout, 0, what);
  if (h.usedSize > raw.length || h.usedSize < 56) throw corrupt(what, `used size ${h.usedSize} is invalid`);
  if (h.firstAttributeOffset < 42 || h.firstAttributeOffset + 4 > h.usedSize || h.firstAttributeOffset % 8 !== 0) {
    throw corrupt(what, `first attribute offset ${h.firstAttributeOffset} is invalid`);
  }
  const inUse = (h.flags & MftRecordFlags.IN_USE) !== 0;
  return {
    number,
    sequence: h.sequence,
    linkCount: h.linkCount,
    flags: h.flags,
    inUse,
    isDirectory: (h.flags & MftRecordFlags.DIRECTORY) !== 0,
    baseRecord: h.baseRecord,
    attributes: inUse ? parseAttributes(raw, h.firstAttributeOffset, h.usedSize, number, totalClusters) : [],
  };
}
