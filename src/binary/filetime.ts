// FILETIME (100 ns ticks since 1601-01-01 UTC, unsigned 64-bit little-endian) to and from Unix
// milliseconds, in exact integer arithmetic on safe numbers (no BigInt on the decode path).
import { DiskarcError } from '../errors.js';

/** 1601-01-01 → 1970-01-01 in milliseconds. */
export const FILETIME_UNIX_EPOCH_MS = 11644473600000;
/** The Unix milliseconds of the smallest and largest FILETIME (ticks 0 and 2^64 − 1). */
export const FILETIME_MIN_MS = -FILETIME_UNIX_EPOCH_MS;
export const FILETIME_MAX_MS = 1844674407370955 - FILETIME_UNIX_EPOCH_MS;

const TWO32 = 2 ** 32;

/** floor((hi·2^32 + lo) / 10^4) − epoch, exactly: 2^32 = 429496·10^4 + 7296. */
export function filetimeToUnixMs(hi: number, lo: number): number {
  return hi * 429496 + Math.floor((hi * 7296 + lo) / 10000) - FILETIME_UNIX_EPOCH_MS;
}

/** Writes the FILETIME of whole milliseconds `ms`; EINTERNAL when no FILETIME holds it. */
export function writeFiletime(ms: number, buf: Buffer, at: number): void {
  if (!Number.isInteger(ms) || ms < FILETIME_MIN_MS || ms > FILETIME_MAX_MS)
    throw new DiskarcError('EINTERNAL', `${ms} is not a whole number of milliseconds a FILETIME can hold`);
  // m·10^4 may exceed 2^53: split m = q·2^32 + r, so that every partial product stays safe.
  const m = ms + FILETIME_UNIX_EPOCH_MS;
  const r = m % TWO32;
  const low = r * 10000;
  const lo = low % TWO32;
  const hi = ((m - r) / TWO32) * 10000 + (low - lo) / TWO32;
  buf.writeUInt32LE(lo, at);
  buf.writeUInt32LE(hi, at + 4);
}
