// Conditional requests (RFC 9110 §13) for immutable, read-only representations: If-Match,
// If-Unmodified-Since, If-None-Match, If-Modified-Since and If-Range, evaluated in the RFC's order.
import type { IncomingHttpHeaders } from 'node:http';

export interface Validators {
  /** A strong entity tag, quoted ("…"). */
  etag: string;
  lastModified: Date;
}

export type Precondition = 'proceed' | 'not-modified' | 'failed';

function tags(header: string): string[] {
  return header.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

const weakEquals = (a: string, b: string): boolean => a.replace(/^W\//, '') === b.replace(/^W\//, '');

/** HTTP dates are whole seconds: compare at that precision. */
const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

/** For GET and HEAD (the only methods that reach a representation here). */
export function evaluatePreconditions(h: IncomingHttpHeaders, v: Validators): Precondition {
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    // Strong comparison: a weak tag never matches.
    const list = tags(ifMatch);
    if (!list.includes('*') && !list.includes(v.etag)) return 'failed';
  } else {
    const since = parseDate(h['if-unmodified-since']);
    if (since !== undefined && seconds(v.lastModified) > since) return 'failed';
  }
  const ifNoneMatch = h['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const list = tags(ifNoneMatch);
    if (list.includes('*') || list.some((t) => weakEquals(t, v.etag))) return 'not-modified';
  } else {
    const since = parseDate(h['if-modified-since']);
    if (since !== undefined && seconds(v.lastModified) <= since) return 'not-modified';
  }
  return 'proceed';
}

/** If-Range: true when the Range header is to be honoured (no If-Range, or it still matches). */
export function rangeStillValid(h: IncomingHttpHeaders, v: Validators): boolean {
  const ifRange = h['if-range'] as string | undefined;
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag; // strong only
  const t = parseDate(value);
  // A date validator must be exactly the Last-Modified (and that must be strong: old enough).
  return t !== undefined && t === seconds(v.lastModified);
}
