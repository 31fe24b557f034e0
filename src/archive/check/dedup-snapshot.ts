// check of index/dedup.idx (format.md §8), derived data: damage loses nothing, but a snapshot
// that pack would trust must be exactly the table the hash lists give. Checked slot by slot
// without rebuilding it: every used slot's fingerprint is the first 8 bytes of the hash of the
// (slab, chunk) it names, unused slots are all zero, and every chunk of the slabs it claims to
// cover is found where a lookup probes for it.
import { EMPTY_SLOT, INDEX_MAGIC, indexHeader } from '../dedup-index.js';
import { DEDUP_INDEX_KEY } from '../../storage/keys.js';
import { hashRecord } from '../layout.js';
import type { CheckContext } from './context.js';
import type { SlabState } from './slab-files.js';

export async function checkDedupSnapshot(ctx: CheckContext, slabs: SlabState): Promise<void> {
  const rel = DEDUP_INDEX_KEY;
  const buf = await ctx.readWhole(rel);
  if (buf === undefined) {
    if (slabs.total > 0) ctx.notes.push({ file: rel, message: 'no dedup index snapshot (derived: the next pack rebuilds it from the hash lists)' });
    return;
  }
  const fail = (offset: number, length: number, what: string) => {
    ctx.log.add({ file: rel, offset, length, kind: 'derived', message: `${rel} ${what} (derived data, nothing is lost; delete it and the next pack rebuilds it)` });
  };
  if (buf.length < indexHeader.size) return fail(0, buf.length, 'is truncated');
  const h = indexHeader.decode(buf);
  const cap = h.capacity;
  if (h.magic !== INDEX_MAGIC || h.version !== 1 || cap < 2 || (cap & (cap - 1)) !== 0) return fail(0, indexHeader.size, 'has a damaged header');
  if (buf.length !== indexHeader.size + cap * 14) return fail(Math.min(buf.length, indexHeader.size + cap * 14), Math.abs(buf.length - indexHeader.size - cap * 14), `is ${buf.length} bytes, its header says ${indexHeader.size + cap * 14}`);
  if (h.slabsCovered > slabs.total) return fail(8, 8, `covers ${h.slabsCovered} slabs, the archive has ${slabs.total}`);
  const fpHi = indexHeader.size;
  const fpLo = fpHi + 4 * cap;
  const slab = fpLo + 4 * cap;
  const chunk = slab + 4 * cap;
  const mask = cap - 1;
  let used = 0;
  let firstBad = -1;
  for (let i = 0; i < cap && firstBad < 0; i++) {
    const s = buf.readUInt32LE(slab + 4 * i);
    const hi = buf.readUInt32LE(fpHi + 4 * i);
    const lo = buf.readUInt32LE(fpLo + 4 * i);
    const c = buf.readUInt16LE(chunk + 2 * i);
    if (s === EMPTY_SLOT) {
      if (hi !== 0 || lo !== 0 || c !== 0) firstBad = i;
      continue;
    }
    used++;
    const list = slabs.hashLists.get(s);
    const at = c * hashRecord.size;
    // A slab whose hash list is damaged is reported with the slab; its slots cannot be judged.
    if (list === undefined) {
      if (!slabs.damaged.has(s) || s >= slabs.total) firstBad = i;
      continue;
    }
    if (at + hashRecord.size > list.length || list.readUInt32LE(at) !== hi || list.readUInt32LE(at + 4) !== lo) firstBad = i;
  }
  if (firstBad >= 0) return fail(fpHi + 4 * firstBad, 4, `slot ${firstBad} does not match the hash lists`);
  if (used !== h.entries) return fail(24, 8, `holds ${used} used slots, its header says ${h.entries} entries`);
  // Pack trusts the snapshot for the slabs it covers: each of their chunks must be found by
  // probing from its home slot, as a lookup does.
  for (let s = 0; s < h.slabsCovered; s++) {
    const list = slabs.hashLists.get(s);
    for (let at = 0; list && at < list.length; at += hashRecord.size) {
      const c = at / hashRecord.size;
      let i = list.readUInt32LE(at + 4) & mask;
      let found = false;
      for (let probes = 0; probes < cap && buf.readUInt32LE(slab + 4 * i) !== EMPTY_SLOT && !found; probes++, i = (i + 1) & mask) {
        found = buf.readUInt32LE(slab + 4 * i) === s && buf.readUInt16LE(chunk + 2 * i) === c;
      }
      if (!found) return fail(0, 0, `lacks chunk ${c} of slab ${s}, which it claims to cover`);
    }
  }
}
