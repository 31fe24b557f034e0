// GUIDs as stored on disk (UEFI spec appendix A): the first three groups little-endian, the last
// two big-endian. The text form is upper case, as sfdisk, sgdisk and Windows print it.
import { DiskarcError } from '../errors.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase());
// Byte index of each hex pair of the text form, in text order.
const TEXT_ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
const TEXT_FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function readGuid(buf: Buffer, at: number): string {
  const h = (i: number) => HEX[buf[at + TEXT_ORDER[i]]];
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}

// Where each byte's two hex digits start in the text form.
const TEXT_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** Writes the GUID of text form `text` (either case); EINTERNAL when it is not one. */
export function writeGuid(text: string, buf: Buffer, at: number): void {
  if (!isGuidText(text))
    throw new DiskarcError('EINTERNAL', `${JSON.stringify(text)} is not a GUID (XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)`);
  for (let i = 0; i < 16; i++)
    buf[at + TEXT_ORDER[i]] = (hexDigit(text.charCodeAt(TEXT_AT[i])) << 4) | hexDigit(text.charCodeAt(TEXT_AT[i] + 1));
}

/** The value of a hex digit already checked by TEXT_FORM: 0-9, A-F, a-f. */
function hexDigit(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

export function isGuidText(text: unknown): text is string {
  return typeof text === 'string' && TEXT_FORM.test(text);
}
