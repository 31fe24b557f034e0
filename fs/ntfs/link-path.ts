// Where a link on an NTFS volume leads when it is followed inside that volume (cat, paths through
// links): the rules for Windows symlinks, junctions and Interix links, as ntfs-3g applies them.
// Pure: from the link's directory and its target to the volume path to resolve next, or why not.

/** How the link is stored: a Windows symlink or junction (reparse point), or an Interix file (ntfs-3g `ln -s`). */
export type LinkKind = 'symlink' | 'junction' | 'interix';

export type LinkDestination = { inside: true; parts: string[] } | { inside: false; reason: string };

/**
 * The volume path (components from the root) a link's target names, given the components of
 * the link's directory. `target` is in the reader's form ('/' separators, no `\??\` prefix).
 *
 * - relative: from the link's directory; `..` past the volume root leaves the volume (as a
 *   mount of the volume would);
 * - drive-absolute (`C:/x`, any letter) and rooted (`/x`) Windows targets: from the volume root —
 *   the drive letter the volume had is not recorded on it, so one is taken to name it, as ntfs-3g
 *   does;
 * - an absolute Interix target is a path of the system that wrote it (ntfs-3g stores POSIX
 *   targets verbatim), and UNC (`//server/share`) or volume-GUID targets are other volumes:
 *   outside.
 */
export function linkDestination(linkDir: readonly string[], target: string, kind: LinkKind): LinkDestination {
  if (/^\/\/|^UNC\//i.test(target)) return { inside: false, reason: 'it is a network (UNC) path' };
  if (/^Volume\{[0-9a-f-]+\}/i.test(target)) return { inside: false, reason: 'it names another volume by GUID' };
  let parts: string[];
  let rest: string;
  let relative = false;
  const drive = /^[A-Za-z]:(?:\/|$)(.*)$/.exec(target);
  if (drive) {
    parts = [];
    rest = drive[1]!;
  } else if (target.startsWith('/')) {
    if (kind === 'interix') return { inside: false, reason: 'it is an absolute path of the system that made the link, not of the volume' };
    parts = [];
    rest = target;
  } else {
    parts = [...linkDir];
    rest = target;
    relative = true;
  }
  for (const p of rest.split('/')) {
    if (p === '' || p === '.') continue;
    if (p !== '..') parts.push(p);
    else if (parts.length > 0) parts.pop();
    // An absolute path stays at its root (as Windows and POSIX do); a relative one leaves the volume.
    else if (relative) return { inside: false, reason: 'it leads above the volume root' };
  }
  return { inside: true, parts };
}
