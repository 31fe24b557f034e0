// Mount-table facts for mount/umount: what is mounted where (/proc/self/mountinfo), whether a
// directory can take a new mount, and how to recognise a stale FUSE mount whose server died.
import { readdir, readFile, stat, statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DiskarcError } from '../../src/errors.js';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  options: string;
}

/** Undoes the octal escapes (\040 for space…) the kernel puts in mountinfo fields. */
function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // id parent major:minor root mountpoint options [optional fields] - fstype source superopts
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    out.push({ mountPoint: unescapeField(l[4]), options: l[5], fsType: r[0], source: unescapeField(r[1] ?? '') });
  }
  return out;
}

export async function findMount(mountPoint: string): Promise<MountEntry | undefined> {
  const mp = resolve(mountPoint);
  const mounts = await readMounts();
  // The last entry wins: later mounts stack over earlier ones.
  return mounts.filter((m) => m.mountPoint === mp).pop();
}

/** The command that clears a stale or busy FUSE mount. */
export function fixCommand(mountPoint: string): string {
  return `fusermount3 -u ${shellQuote(mountPoint)}  (or: umount -l ${shellQuote(mountPoint)})`;
}

export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Whether the FUSE mount on `mountPoint` has lost its server (killed, OOM): statfs() always asks
 * the server, so a dead connection answers ENOTCONN — unlike stat(), which the kernel may answer
 * from attributes it cached while the server was alive (we grant an hour: attr_timeout).
 */
export async function isStaleFuseMount(mountPoint: string): Promise<boolean> {
  try {
    await statfs(mountPoint);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOTCONN';
  }
}

function staleMountError(mp: string): DiskarcError {
  return new DiskarcError('ESERVER', `${mp} is a stale FUSE mount left by a process that was killed; clear it with: ${fixCommand(mp)}`, {
    mountpoint: mp,
    stale: true,
    fix: `fusermount3 -u ${mp}`,
  });
}

/**
 * Checks that `mountPoint` is an existing, empty directory with nothing mounted on it; the error
 * names the exact fix. A stale FUSE mount answers stat() with ENOTCONN — or, when its root's
 * attributes were cached, with them; then it is in the mount table and statfs() tells.
 */
export async function checkMountpoint(mountPoint: string): Promise<string> {
  const mp = resolve(mountPoint);
  let isDir: boolean;
  try {
    isDir = (await stat(mp)).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN') throw staleMountError(mp);
    if (code === 'ENOENT')
      throw new DiskarcError('EUSAGE', `mountpoint ${mp} does not exist (create it with: mkdir -p ${shellQuote(mp)})`, { mountpoint: mp });
    throw new DiskarcError('EUSAGE', `cannot use mountpoint ${mp}: ${(e as Error).message}`, { mountpoint: mp }, { cause: e });
  }
  if (!isDir) throw new DiskarcError('EUSAGE', `mountpoint ${mp} is not a directory`, { mountpoint: mp });
  const mounted = await findMount(mp);
  if (mounted) {
    if (mounted.fsType.startsWith('fuse') && (await isStaleFuseMount(mp))) throw staleMountError(mp);
    throw new DiskarcError(
      'EUSAGE',
      `${mp} is already a mount point (${mounted.fsType} from ${mounted.source}); unmount it first (diskarc umount ${shellQuote(mp)})`,
      { mountpoint: mp, fsType: mounted.fsType, source: mounted.source },
    );
  }
  const entries = await readdir(mp);
  if (entries.length > 0) {
    throw new DiskarcError(
      'EUSAGE',
      `mountpoint ${mp} is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}); mounting would hide its ` +
        `files — use an empty directory`,
      { mountpoint: mp, entries: entries.length },
    );
  }
  return mp;
}
