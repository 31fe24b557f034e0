// Request paths → tree paths. A URL path is split on '/' *before* percent-decoding, so an encoded
// slash (%2F) or backslash stays inside its one name and can never add a level; '.', '..', NUL,
// invalid UTF-8 and over-long names are refused here, before anything touches the tree.
// Pure functions: the same rules build the hrefs the server sends back.

/** Longest request target accepted (bytes), as most servers bound it. */
export const MAX_URL_BYTES = 8192;
/** The tree's names are at most 255 UTF-8 bytes (names.ts); anything longer cannot exist. */
const MAX_NAME_BYTES = 255;

export type RequestPath =
  | { ok: true; segments: string[]; /** The client wrote a trailing '/'. */ slash: boolean }
  | { ok: false; status: 400 | 404 | 414; reason: string };

/** Decodes the path of a request target ("/a/b%20c/?q" → ['a', 'b c']). */
export function decodeRequestPath(target: string): RequestPath {
  if (Buffer.byteLength(target) > MAX_URL_BYTES) return { ok: false, status: 414, reason: 'request target too long' };
  let path = target;
  // An absolute-form target (proxies, some clients) carries scheme and authority first.
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(path);
  if (abs) path = path.slice(abs[0].length) || '/';
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  if (!path.startsWith('/')) return { ok: false, status: 400, reason: 'request target is not an absolute path' };
  const raw = path.split('/');
  const segments: string[] = [];
  for (const r of raw) {
    if (r === '') continue;
    let name: string;
    try {
      name = decodeURIComponent(r);
    } catch {
      return { ok: false, status: 400, reason: 'malformed percent-encoding or UTF-8 in the path' };
    }
    // decodeURIComponent replaces nothing: lone surrogates cannot come out of valid UTF-8.
    if (name === '.' || name === '..') return { ok: false, status: 400, reason: 'dot segments are not allowed' };
    if (name.includes('\0')) return { ok: false, status: 400, reason: 'NUL in the path' };
    if (name.includes('/')) return { ok: false, status: 404, reason: 'no name holds a slash' };
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) return { ok: false, status: 404, reason: 'name longer than 255 bytes' };
    segments.push(name);
  }
  return { ok: true, segments, slash: path.endsWith('/') };
}

/** The tree path of decoded segments. */
export function treePath(segments: readonly string[]): string {
  return '/' + segments.join('/');
}

/**
 * An absolute-path href for segments: each name percent-encoded as a URI path segment (so '%',
 * '#', '?', ':' and non-ASCII survive), collections with a trailing '/'.
 */
export function encodeHref(segments: readonly string[], collection: boolean): string {
  const p = segments.map(encodeSegment).join('/');
  if (p === '') return '/';
  return '/' + p + (collection ? '/' : '');
}

export function encodeSegment(name: string): string {
  // encodeURIComponent leaves !'()* alone; quote the two that break HTML attributes or XML.
  return encodeURIComponent(name).replace(/['()*!]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
