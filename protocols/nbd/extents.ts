// Turns a block source's extents into what NBD sends: the chunk plan of a structured READ
// (data vs OFFSET_HOLE pieces) and the `base:allocation` descriptors of BLOCK_STATUS.
// Pure functions over extent lists, tolerant of sources that leave gaps or overshoot the range.
import type { Extent } from '../../src/block/source.js';
import { AllocationState } from './constants.js';

export interface ReadPiece {
  offset: number;
  length: number;
  /** True when the piece reads as zeros and is sent as NBD_REPLY_TYPE_OFFSET_HOLE. */
  zero: boolean;
}

/** Walks [offset, offset+length) over `extents`, clipping them and filling gaps as data. */
function* cover(extents: Extent[], offset: number, length: number): Generator<{ offset: number; length: number; kind: Extent['kind'] }> {
  const end = offset + length;
  let pos = offset;
  for (const e of extents) {
    const s = Math.max(e.offset, pos);
    const t = Math.min(e.offset + e.length, end);
    if (t <= s) continue;
    if (s > pos) yield { offset: pos, length: s - pos, kind: 'data' };
    yield { offset: s, length: t - s, kind: e.kind };
    pos = t;
    if (pos >= end) return;
  }
  if (pos < end) yield { offset: pos, length: end - pos, kind: 'data' };
}

/**
 * Splits a READ into data and zero pieces. Zero runs shorter than `minHole` are folded into the
 * neighbouring data (a 12-byte hole chunk plus a second data chunk costs more than the zeros).
 */
export function planRead(extents: Extent[], offset: number, length: number, minHole: number): ReadPiece[] {
  const out: ReadPiece[] = [];
  for (const e of cover(extents, offset, length)) {
    const zero = e.kind !== 'data' && e.length >= minHole;
    const last = out[out.length - 1];
    if (last && last.zero === zero) last.length += e.length;
    else out.push({ offset: e.offset, length: e.length, zero });
  }
  return out;
}

export interface StatusDescriptor {
  length: number;
  flags: number;
}

export function allocationFlags(kind: Extent['kind']): number {
  return kind === 'hole' ? AllocationState.HOLE | AllocationState.ZERO : kind === 'zero' ? AllocationState.ZERO : 0;
}

/**
 * `base:allocation` descriptors for [offset, offset+length): holes are HOLE|ZERO, zero fills ZERO,
 * data 0; equal neighbours merged; at most `maxDescriptors` (proto.md: SHOULD NOT exceed 2^20),
 * exactly one with REQ_ONE.
 */
export function allocationDescriptors(
  extents: Extent[],
  offset: number,
  length: number,
  reqOne: boolean,
  maxDescriptors = 1 << 20,
): StatusDescriptor[] {
  const out: StatusDescriptor[] = [];
  for (const e of cover(extents, offset, length)) {
    const flags = allocationFlags(e.kind);
    const last = out[out.length - 1];
    if (last && last.flags === flags) last.length += e.length;
    else {
      if (out.length >= maxDescriptors || (reqOne && out.length === 1)) break;
      out.push({ length: e.length, flags });
    }
  }
  return out;
}
