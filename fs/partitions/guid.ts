// GUIDs of partition tables: an all-zero one marks an unused GPT entry. (Their text form is the
// binary codec's `guid` field type, src/binary/guid.ts.)

export function isZeroGuid(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}
