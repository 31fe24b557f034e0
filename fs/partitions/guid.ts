// GUIDs as stored on disk (UEFI spec appendix A): the first three groups little-endian, the last
// two big-endian. Text form is upper case, as sfdisk, sgdisk and Windows print it.

export function formatGuid(bytes: Buffer): string {
  if (bytes.length !== 16) throw new RangeError('a GUID is 16 bytes');
  const hex = (b: Buffer) => b.toString('hex');
  const le = (start: number, len: number) => hex(Buffer.from(bytes.subarray(start, start + len)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(bytes.subarray(8, 10))}-${hex(bytes.subarray(10, 16))}`.toUpperCase();
}

export function isZeroGuid(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}
