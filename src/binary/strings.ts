// NUL-stopped fixed-size text fields: Latin-1 (`ascii`) and UTF-16LE, decoded up to the first NUL
// and encoded NUL-padded to the field's size. Writers check first and write nothing on failure.

export function readLatin1(buf: Buffer, at: number, size: number): string {
  let end = at;
  while (end < at + size && buf[end] !== 0) end++;
  return buf.toString('latin1', at, end);
}

export function readUtf16(buf: Buffer, at: number, size: number): string {
  const limit = at + (size & ~1);
  let end = at;
  while (end < limit && (buf[end] | buf[end + 1]) !== 0) end += 2;
  return buf.toString('utf16le', at, end);
}

/** False (and nothing written) unless `text` is at most `size` Latin-1 characters without NUL. */
export function writeLatin1(text: unknown, buf: Buffer, at: number, size: number): boolean {
  if (typeof text !== 'string' || text.length > size || !/^[\x01-\xff]*$/.test(text)) return false;
  buf.fill(0, at + buf.write(text, at, 'latin1'), at + size);
  return true;
}

/** False (and nothing written) unless `text` is at most ⌊size/2⌋ UTF-16 code units without NUL. */
export function writeUtf16(text: unknown, buf: Buffer, at: number, size: number): boolean {
  if (typeof text !== 'string' || text.length > size >> 1 || text.includes('\0')) return false;
  buf.fill(0, at + buf.write(text, at, 'utf16le'), at + size);
  return true;
}
