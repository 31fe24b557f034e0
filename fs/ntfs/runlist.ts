// Runlist ("data runs") decoder (libfsntfs "Data runs"): packed (length, signed LCN delta) pairs
// mapping an attribute's virtual clusters to volume clusters; an omitted offset is a sparse run.
import { corrupt } from './layout.js';

export interface Run {
  /** First virtual cluster of the run within the attribute. */
  vcn: number;
  /** First volume cluster, or null for a sparse run (reads as zeros, nothing stored). */
  lcn: number | null;
  /** Clusters in the run (> 0). */
  length: number;
}

/**
 * Decodes the runlist in `buf[start, end)` for an attribute fragment starting at `firstVcn`.
 * `totalClusters` bounds every LCN. Pure and bounds-checked; at most (end-start)/2 runs.
 */
export function decodeRunlist(buf: Buffer, start: number, end: number, firstVcn: number, totalClusters: number, what: string): Run[] {
  const runs: Run[] = [];
  let pos = start;
  let vcn = firstVcn;
  let lcn = 0;
  if (start < 0 || end > buf.length || start > end) throw corrupt(what, 'runlist offset lies outside the attribute');
  for (;;) {
    if (pos >= end) throw corrupt(what, 'runlist is not terminated');
    const header = buf[pos++];
    if (header === 0) break;
    const lenSize = header & 0x0f;
    const offSize = header >> 4;
    if (lenSize === 0 || lenSize > 8 || offSize > 8) throw corrupt(what, `runlist header byte 0x${header.toString(16)} is invalid`);
    if (pos + lenSize + offSize > end) throw corrupt(what, 'runlist runs past the end of the attribute');
    const length = readVarInt(buf, pos, lenSize, false);
    pos += lenSize;
    if (!(length > 0) || !Number.isSafeInteger(vcn + length)) throw corrupt(what, `run length ${length} is invalid`);
    if (offSize === 0) {
      runs.push({ vcn, lcn: null, length });
    } else {
      lcn += readVarInt(buf, pos, offSize, true);
      pos += offSize;
      if (!Number.isSafeInteger(lcn) || lcn < 0 || lcn + length > totalClusters) {
        throw corrupt(what, `run at VCN ${vcn} points to clusters ${lcn}..${lcn + length} outside the volume (${totalClusters} clusters)`);
      }
      runs.push({ vcn, lcn, length });
    }
    vcn += length;
  }
  return runs;
}

/** Little-endian integer of `size` (1..8) bytes; signed values are sign-extended. */
function readVarInt(buf: Buffer, at: number, size: number, signed: boolean): number {
  if (size <= 6) return signed ? buf.readIntLE(at, size) : buf.readUIntLE(at, size);
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[at + i]);
  if (signed && buf[at + size - 1] & 0x80) v -= 1n << BigInt(size * 8);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) return Number.NaN;
  return Number(v);
}

/** Encodes runs back into the packed form (test helper and the inverse of decodeRunlist). */
export function encodeRunlist(runs: readonly Run[]): Buffer {
  const out: number[] = [];
  let prev = 0;
  for (const r of runs) {
    const len = bytesOf(BigInt(r.length), false);
    const off = r.lcn === null ? [] : bytesOf(BigInt(r.lcn - prev), true);
    if (r.lcn !== null) prev = r.lcn;
    out.push((off.length << 4) | len.length, ...len, ...off);
  }
  out.push(0);
  return Buffer.from(out);
}

function bytesOf(v: bigint, signed: boolean): number[] {
  const out: number[] = [];
  for (;;) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
    const top = out[out.length - 1];
    if (signed ? (v === 0n && !(top & 0x80)) || (v === -1n && top & 0x80) : v === 0n) return out;
  }
}
