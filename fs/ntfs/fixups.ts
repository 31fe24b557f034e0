// Update-sequence fixups (libfsntfs "Fix-up values"): the last two bytes of every 512-byte
// stride of an MFT or INDX record were replaced on disk by a check value; the originals live
// in the update-sequence array. A stride whose tail differs from the check value is a torn write.
import { corrupt, decode, ntfsLayout } from './layout.js';

export const FIXUP_STRIDE = 512;

/** The multi-sector header that MFT ("FILE") and index ("INDX") records begin with. */
export const MultiSectorHeaderLayout = ntfsLayout('multi-sector header', {
  signature: { offset: 0, type: 'u32le' },
  usaOffset: { offset: 4, type: 'u16le' },
  usaCount: { offset: 6, type: 'u16le' },
});

/** Checks the signature and applies fixups to `buf` in place. `what` names the record in errors. */
export function applyFixups(buf: Buffer, signature: string, what: string): void {
  const h = decode(buf, MultiSectorHeaderLayout, 0, what);
  const sig = buf.toString('latin1', 0, 4);
  if (sig !== signature) {
    throw corrupt(what, sig === 'BAAD' ? 'marked bad (BAAD) by chkdsk' : `signature is ${JSON.stringify(sig)}, expected "${signature}"`);
  }
  const strides = buf.length / FIXUP_STRIDE;
  if (h.usaCount !== strides + 1) throw corrupt(what, `update sequence count ${h.usaCount} does not match the ${buf.length}-byte record`);
  if (h.usaOffset < 8 || h.usaOffset % 2 !== 0 || h.usaOffset + h.usaCount * 2 > FIXUP_STRIDE - 2) {
    throw corrupt(what, `update sequence array offset ${h.usaOffset} is invalid`);
  }
  const check = buf.readUInt16LE(h.usaOffset);
  for (let i = 1; i <= strides; i++) {
    const tail = i * FIXUP_STRIDE - 2;
    if (buf.readUInt16LE(tail) !== check) throw corrupt(what, `fixup mismatch in sector ${i - 1} (torn write)`);
    buf.writeUInt16LE(buf.readUInt16LE(h.usaOffset + i * 2), tail);
  }
}
