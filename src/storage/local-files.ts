// The file operations the local backend and its lock share: errno → DiskarcError for a key,
// write-everything loops, directory fsyncs and the temp-file-then-link write that makes a file
// appear whole and only if its name is free.
import { link, mkdir, open, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { classifySystemError, DiskarcError } from '../errors.js';
import { keyExists, noSuchKey } from './backend.js';

/**
 * The DiskarcError an errno error means for `key` at `path` while `doing` (e.g. "reading").
 * ENOTDIR / EISDIR: a folder is where the key would be, or a file where its folder would be —
 * for a read the key is not there, for a `write` the name is taken.
 */
export function fileError(e: unknown, key: string, path: string, doing: string, write = false): unknown {
  if (e instanceof DiskarcError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || (!write && (code === 'ENOTDIR' || code === 'EISDIR'))) return noSuchKey(key, path);
  if (code === 'EEXIST') return keyExists(key, path);
  if (code === 'ENOTDIR' || code === 'EISDIR') return keyExists(key, path, 'another archive file is in the way of its folder');
  const err = classifySystemError(e, `${doing} ${path}`);
  // The archive file meant (the errno's own path may be a temp name beside it), for callers
  // that restate the error in their own terms.
  if (err instanceof DiskarcError) err.details.file ??= path;
  return err;
}

/** Writes every byte of `parts` at `position` (writev may write less than asked). */
export async function writeAll(fh: FileHandle, parts: readonly Uint8Array[], position: number): Promise<void> {
  let rest = parts.filter((p) => p.length > 0);
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest as Uint8Array[], position);
    // A write that makes no progress would otherwise spin here for ever.
    if (bytesWritten === 0) throw new DiskarcError('EIO', `a write made no progress at offset ${position}`);
    position += bytesWritten;
    let skip = bytesWritten;
    while (rest.length > 0 && skip >= rest[0].length) skip -= rest.shift()!.length;
    if (skip > 0) rest[0] = rest[0].subarray(skip);
  }
}

/** Reads into `into` at `position` until it is full or the file ends; returns the bytes read. */
export async function readAllAt(fh: FileHandle, into: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** fsync of a directory: makes the names created, renamed or removed in it durable. */
export async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir -p `dir`, then fsyncs the parent of each directory it created, so none is lost in a crash. */
export async function makeDirs(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const created: string[] = [];
  for (let d = dir; d.length >= first.length; d = dirname(d)) created.push(d);
  for (const d of created.reverse()) await fsyncDir(dirname(d));
}

/**
 * Makes the folders a new file at `path` needs, and removes an empty folder standing at `path`
 * itself: keys have no folders (an object store has none), so the folder a removed key leaves
 * behind must not stop a later key of that name.
 */
export async function makeRoomFor(path: string): Promise<void> {
  await makeDirs(dirname(path));
  try {
    await rmdir(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}

/** Creates `tmp` (read-only mode: archive files are never written in place) holding `parts`, fsynced. */
export async function writeTempFile(tmp: string, parts: readonly Uint8Array[]): Promise<void> {
  const fh = await open(tmp, 'wx', 0o444);
  try {
    await writeAll(fh, parts, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Filesystems without hard links (FAT, exFAT, some network ones) refuse link(2) so. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Writes `parts` to the temp file `tmp` (read-only mode, fsynced), then gives it the name `path`:
 * link(2), which fails when the name is taken, so the file appears whole and is never written
 * over; with `replace`, rename(2) over whatever is there. Then fsyncs the directory.
 */
export async function writeNewFile(tmp: string, path: string, parts: readonly Uint8Array[], replace: boolean): Promise<void> {
  try {
    await writeTempFile(tmp, parts);
    if (replace) await rename(tmp, path);
    else await link(tmp, path).catch((e: NodeJS.ErrnoException) => Promise.reject(NO_LINKS.has(e.code ?? '') ? noHardLinks(path, e) : e));
  } finally {
    // The temp name goes in every case (renamed away, linked, or failed); an error removing it
    // would hide the one that matters.
    await unlink(tmp).catch(() => undefined);
  }
  await fsyncDir(dirname(path));
}

function noHardLinks(path: string, cause: NodeJS.ErrnoException): DiskarcError {
  return new DiskarcError('EPERMISSION', `${dirname(path)}: the filesystem refuses hard links (${cause.code}), which archive files need to be written once and whole; keep the archive on a filesystem that has them (ext4, xfs, btrfs, NFS…)`, { path, errno: cause.code }, { cause });
}
