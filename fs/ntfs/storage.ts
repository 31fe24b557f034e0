// How a file is stored on an NTFS volume, as stat(2) reports it (and as ntfs-3g does): the bytes
// its stream's clusters take — sparse runs take none, a compressed stream only its stored
// clusters — and its hard links, the names of its record (a DOS 8.3 alias is not a link).
import { AttributeType, type Attribute } from './attribute.js';
import { Namespace, parseFileName } from './file-name.js';
import { findAttribute, type FileRecord } from './file-record.js';

/**
 * Bytes allocated to stream `stream` ('' = the unnamed $DATA, and a directory's index) of `rec`:
 * a resident value takes its length, a non-resident one the clusters its runlist maps (sparse runs
 * map none). Each stream counts only its own clusters, so a Windows "compact" (WOF) file, whose
 * unnamed $DATA is all sparse, takes nothing: its bytes are its WofCompressedData stream's.
 */
export function allocatedBytes(rec: FileRecord, stream: string, clusterSize: number): number {
  const data = findAttribute(rec, AttributeType.DATA, stream);
  let bytes = data ? streamBytes(data, clusterSize) : 0;
  if (stream !== '') return bytes;
  // A directory's blocks are its index blocks (a small one lives in its record: none).
  const index = findAttribute(rec, AttributeType.INDEX_ALLOCATION, '$I30');
  if (index) bytes += streamBytes(index, clusterSize);
  return bytes;
}

function streamBytes(a: Attribute, clusterSize: number): number {
  if (a.resident) return a.value?.length ?? 0;
  let clusters = 0;
  for (const r of a.runs) if (r.lcn !== null) clusters += r.length;
  return clusters * clusterSize;
}

/**
 * Hard links to `rec`: its $FILE_NAME attributes, except DOS 8.3 aliases of a long name (the
 * record's own link count counts those too: a Windows file with one name and its 8.3 alias has 2).
 * At least 1, so a record reached through a directory is never shown with no links.
 */
export function hardLinkCount(rec: FileRecord): number {
  let links = 0;
  for (const a of rec.attributes) {
    if (a.type !== AttributeType.FILE_NAME || !a.resident) continue;
    if (parseFileName(a.value!, `MFT record ${rec.number} $FILE_NAME`).namespace !== Namespace.DOS) links++;
  }
  return Math.max(1, links);
}
