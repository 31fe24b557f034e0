// Turning names from archives and filesystems into names a POSIX directory can hold:
// no '/', no NUL, not '.'/'..', at most 255 bytes, and unique within their directory.
// Pure functions, so FUSE and WebDAV derive exactly the same names.

const MAX_NAME_BYTES = 255;

/**
 * Escapes what a path component cannot hold. '%' is escaped too, so an escaped name never
 * equals a different raw name that happened to contain the escape sequence.
 */
export function escapeName(raw: string): string {
  let out = raw.replace(/[%/\0]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
  if (out === '') out = '%00';
  if (out === '.' || out === '..') out = out.replace(/\./g, '%2E');
  return truncateUtf8(out, MAX_NAME_BYTES);
}

/**
 * Replaces characters a filesystem entry name cannot hold, without escaping '%' (names read from
 * NTFS keep their look; collisions created by the replacement are resolved by `uniqueNames`).
 */
export function safeEntryName(raw: string): string {
  let out = raw.replace(/[/\0]/g, '_');
  if (out === '' || out === '.' || out === '..') out = out.replace(/\./g, '_') || '_';
  return truncateUtf8(out, MAX_NAME_BYTES);
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * Makes names unique in order: the first holder of a name keeps it, later ones get "~2", "~3"…
 * (before the extension: "disk~2.img"), skipping suffixed names that are taken themselves.
 * `taken` holds names reserved beforehand (fixed entries such as disk.img).
 */
export function uniqueNames(names: readonly string[], taken: Iterable<string> = []): string[] {
  const used = new Set(taken);
  // Reserve every original name first, so a later raw "a~2" keeps its name over a suffixed "a".
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  const out: string[] = [];
  const claimed = new Set<string>();
  for (const n of names) {
    if (!used.has(n) && !claimed.has(n)) {
      claimed.add(n);
      out.push(n);
      continue;
    }
    let i = 2;
    let candidate: string;
    do {
      candidate = withSuffix(n, `~${i++}`);
    } while (used.has(candidate) || claimed.has(candidate) || (counts.has(candidate) && candidate !== n));
    claimed.add(candidate);
    out.push(candidate);
  }
  return out;
}

function withSuffix(name: string, suffix: string): string {
  const dot = name.lastIndexOf('.');
  const base = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot) : '';
  return truncateUtf8(base, MAX_NAME_BYTES - Buffer.byteLength(suffix + ext)) + suffix + ext;
}
