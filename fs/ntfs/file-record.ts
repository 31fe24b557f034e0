// A file's complete attribute set: its base MFT record plus the extension records its
// $ATTRIBUTE_LIST names, with non-resident attributes split by VCN joined back into one runlist.
import { AttributeType, AttributeFlags, type Attribute } from './attribute.js';
import { parseAttributeList } from './attribute-list.js';
import { corrupt } from './layout.js';
import type { MftRecord } from './mft-record.js';
import type { StreamAttribute } from './attribute-stream.js';

/** $ATTRIBUTE_LIST values larger than this are treated as corrupt (real ones stay far below). */
export const MAX_ATTRIBUTE_LIST = 4 * 1024 * 1024;
/** Extension records per file; bounds the work a corrupt list can cause. */
export const MAX_EXTENSION_RECORDS = 65536;

export interface FileRecord {
  number: number;
  sequence: number;
  linkCount: number;
  isDirectory: boolean;
  attributes: Attribute[];
}

export interface RecordReader {
  record(n: number): Promise<MftRecord>;
  /** Reads a whole (possibly non-resident) attribute value, for the attribute list. */
  attributeValue(attr: StreamAttribute, what: string): Promise<Buffer>;
}

/** Builds the file record of base record `base`, reading extension records through `reader`. */
export async function loadFileRecord(base: MftRecord, reader: RecordReader): Promise<FileRecord> {
  const what = `MFT record ${base.number}`;
  if (!base.inUse) throw corrupt(what, 'is not in use (stale directory entry?)');
  if (base.baseRecord !== 0) throw corrupt(what, `is an extension record of record ${base.baseRecord}, not a file`);
  let attributes = base.attributes;
  const list = attributes.find((a) => a.type === AttributeType.ATTRIBUTE_LIST);
  if (list) {
    if (list.dataSize > MAX_ATTRIBUTE_LIST) throw corrupt(`${what} $ATTRIBUTE_LIST`, `size ${list.dataSize} is implausible`);
    const value = list.resident ? list.value! : await reader.attributeValue(streamOf(list), `${what} $ATTRIBUTE_LIST`);
    const extensions = new Set<number>();
    for (const e of parseAttributeList(value, base.number)) if (e.record !== base.number) extensions.add(e.record);
    if (extensions.size > MAX_EXTENSION_RECORDS) throw corrupt(`${what} $ATTRIBUTE_LIST`, `names ${extensions.size} extension records`);
    attributes = [...attributes];
    for (const n of extensions) {
      const ext = await reader.record(n);
      if (!ext.inUse || ext.baseRecord !== base.number)
        throw corrupt(`${what} $ATTRIBUTE_LIST`, `extension record ${n} does not belong to this file`);
      attributes.push(...ext.attributes.filter((a) => a.type !== AttributeType.ATTRIBUTE_LIST));
    }
  }
  return {
    number: base.number,
    sequence: base.sequence,
    linkCount: base.linkCount,
    isDirectory: base.isDirectory,
    attributes: mergeFragments(attributes, what),
  };
}

/**
 * Joins the VCN-split fragments of each non-resident (type, name) into one attribute whose sizes
 * come from the first fragment; fragments must follow each other exactly, so no run is mapped twice.
 */
export function mergeFragments(attributes: Attribute[], what: string): Attribute[] {
  const out: Attribute[] = [];
  const groups = new Map<string, Attribute[]>();
  for (const a of attributes) {
    if (a.resident) out.push(a);
    else {
      const key = `${a.type}:${a.name}`;
      const g = groups.get(key);
      if (g) g.push(a);
      else groups.set(key, [a]);
    }
  }
  for (const frags of groups.values()) {
    frags.sort((x, y) => x.firstVcn - y.firstVcn);
    const first = frags[0];
    const at = `${what} attribute 0x${first.type.toString(16)}${first.name ? ':' + first.name : ''}`;
    if (first.firstVcn !== 0) throw corrupt(at, `first fragment starts at VCN ${first.firstVcn}, not 0`);
    const runs = [...first.runs];
    for (let i = 1; i < frags.length; i++) {
      if (frags[i].firstVcn !== frags[i - 1].lastVcn + 1)
        throw corrupt(at, `fragment at VCN ${frags[i].firstVcn} does not follow VCN ${frags[i - 1].lastVcn}`);
      runs.push(...frags[i].runs);
    }
    out.push(Object.assign({}, first, { lastVcn: frags[frags.length - 1].lastVcn, runs }));
  }
  return out;
}

export function streamOf(a: Attribute): StreamAttribute {
  return {
    resident: a.resident,
    value: a.value,
    runs: a.runs,
    dataSize: a.dataSize,
    validDataSize: a.validDataSize,
    compressionUnit: a.compressionUnit,
    compressed: (a.flags & AttributeFlags.COMPRESSED) !== 0,
  };
}

export function findAttribute(rec: FileRecord, type: number, name = ''): Attribute | undefined {
  return rec.attributes.find((a) => a.type === type && a.name === name);
}
