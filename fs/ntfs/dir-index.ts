// Directory index structures (libfsntfs "Index root", "Index allocation", "Index entry"):
// $INDEX_ROOT header, INDX blocks (with fixups) and the B-tree node entries they hold.
import { applyFixups } from './fixups.js';
import { corrupt, decode, ntfsLayout, requireBytes } from './layout.js';
import { parseFileName, type FileName } from './file-name.js';

export const IndexRootLayout = ntfsLayout('$INDEX_ROOT header', {
  attributeType: { offset: 0, type: 'u32le' },
  collationRule: { offset: 4, type: 'u32le' },
  indexRecordSize: { offset: 8, type: 'u32le' },
  clustersPerIndexRecord: { offset: 12, type: 'u8' },
});
/** The node header follows the 16-byte root header. */
export const INDEX_ROOT_NODE_OFFSET = 16;

export const IndexRecordLayout = ntfsLayout('INDX record header', {
  vcn: { offset: 16, type: 'u64le' },
});
/** The node header in an INDX record starts at 24. */
export const INDEX_RECORD_NODE_OFFSET = 24;

export const IndexNodeHeaderLayout = ntfsLayout('index node header', {
  entriesOffset: { offset: 0, type: 'u32le' },
  indexLength: { offset: 4, type: 'u32le' },
  allocatedLength: { offset: 8, type: 'u32le' },
  flags: { offset: 12, type: 'u8' },
});

export const IndexEntryLayout = ntfsLayout('index entry', {
  record: { offset: 0, type: 'u48le' },
  sequence: { offset: 6, type: 'u16le' },
  length: { offset: 8, type: 'u16le' },
  keyLength: { offset: 10, type: 'u16le' },
  flags: { offset: 12, type: 'u16le' },
});

export const IndexEntryFlags = { HAS_SUBNODE: 1, LAST: 2 } as const;
export const COLLATION_FILENAME = 1;

export interface IndexRoot {
  attributeType: number;
  collationRule: number;
  indexRecordSize: number;
  entries: IndexEntry[];
}

export interface IndexEntry {
  record: number;
  sequence: number;
  /** The $FILE_NAME key; absent on the terminating entry. */
  key?: FileName;
  /** VCN of the child INDX block holding keys sorted before this entry. */
  subnode?: number;
}

/** Parses the entries of a node whose header is at `nodeOffset` within `buf`. */
export function parseIndexNode(buf: Buffer, nodeOffset: number, what: string): IndexEntry[] {
  const h = decode(buf, IndexNodeHeaderLayout, nodeOffset, `${what} node header`);
  const end = nodeOffset + h.indexLength;
  let pos = nodeOffset + h.entriesOffset;
  if (h.entriesOffset < 16 || end > buf.length || pos > end)
    throw corrupt(what, `node header (entries at ${h.entriesOffset}, length ${h.indexLength}) is invalid`);
  const out: IndexEntry[] = [];
  for (;;) {
    const e = decode(buf, IndexEntryLayout, pos, `${what} entry at ${pos}`);
    if (e.length < 16 || e.length % 8 !== 0 || pos + e.length > end)
      throw corrupt(what, `entry at offset ${pos} has invalid length ${e.length}`);
    const entry: IndexEntry = { record: e.record, sequence: e.sequence };
    if (e.flags & IndexEntryFlags.HAS_SUBNODE) {
      if (e.length < 24) throw corrupt(what, `entry at offset ${pos} is too short for a sub-node`);
      const vcn = buf.readBigUInt64LE(pos + e.length - 8);
      if (vcn > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(what, `sub-node VCN ${vcn} is out of range`);
      entry.subnode = Number(vcn);
    }
    if (!(e.flags & IndexEntryFlags.LAST)) {
      requireBytes(buf, pos + 16, e.keyLength, `${what} entry key`);
      if (16 + e.keyLength > e.length) throw corrupt(what, `entry at offset ${pos} key overruns the entry`);
      entry.key = parseFileName(buf.subarray(pos + 16, pos + 16 + e.keyLength), `${what} entry key`);
    }
    out.push(entry);
    if (e.flags & IndexEntryFlags.LAST) break;
    pos += e.length;
  }
  return out;
}

export function parseIndexRoot(value: Buffer, what: string): IndexRoot {
  const r = decode(value, IndexRootLayout, 0, what);
  return {
    attributeType: r.attributeType,
    collationRule: r.collationRule,
    indexRecordSize: r.indexRecordSize,
    entries: parseIndexNode(value, INDEX_ROOT_NODE_OFFSET, what),
  };
}

/** Applies fixups to an INDX block (in place) and returns its entries; checks the VCN it claims. */
export function parseIndexRecord(block: Buffer, expectedVcn: number, what: string): IndexEntry[] {
  applyFixups(block, 'INDX', what);
  const r = decode(block, IndexRecordLayout, 0, what);
  if (r.vcn !== expectedVcn) throw corrupt(what, `claims VCN ${r.vcn}`);
  return parseIndexNode(block, INDEX_RECORD_NODE_OFFSET, what);
}
