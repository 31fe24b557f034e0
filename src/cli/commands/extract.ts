// `diskarc extract`: copies a file or a whole tree out of an NTFS volume — sparse files stay
// sparse, mtimes are kept, links become symlinks, hard links stay hard links, and with
// --streams alternate data streams become `name:stream` files. A file that cannot be read is
// reported and skipped; the command then fails with EFS after extracting everything else.
// Paths that already exist are found before anything is written: refused (naming them), or
// with --overwrite replaced, with --skip-existing kept.
import type { FileHandle } from 'node:fs/promises';
import { link, lstat, lutimes, mkdir, open, readdir, symlink, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { walkTree, type NtfsEntry, type NtfsVolume } from '../../../fs/ntfs/index.js';
import { presentTarget } from '../../../fs/tree/ntfs-subtree.js';
import type { BlockSource } from '../../block/source.js';
import { DiskarcError, isDiskarcError } from '../../errors.js';
import { withInterrupt } from '../interrupt.js';
import { Output, formatBytes } from '../output.js';
import { ntfsSourceOptions, withNtfsVolume, type NtfsSourceOptions } from './ls.js';

const CHUNK = 1 << 20;
/** Files written concurrently during a tree extraction (overlaps archive reads with file creation). */
const FILE_CONCURRENCY = 8;

/** Conflicting paths named in the refusal (and its --json details); the count is always exact. */
const CONFLICTS_NAMED = 20;

interface ExtractOptions extends NtfsSourceOptions {
  streams?: boolean;
  overwrite?: boolean;
  skipExisting?: boolean;
}

/** What to do with a destination path that already exists (an existing directory is always filled). */
export type ExistingPolicy = 'refuse' | 'overwrite' | 'skip';

export interface ExtractSummary {
  source: string;
  path: string;
  destination: string;
  files: number;
  directories: number;
  symlinks: number;
  hardLinks: number;
  streams: number;
  bytes: number;
  /** Existing paths left as they were (--skip-existing). */
  skipped: number;
  /** Existing files and links replaced (--overwrite). */
  replaced: number;
  seconds: number;
  errors: Array<{ path: string; code: string; message: string }>;
}

export function register(program: Command): void {
  ntfsSourceOptions(
    program
      .command('extract')
      .description('copy a file or directory tree out of an NTFS volume (sparse, with mtimes, links as symlinks)')
      .argument('<path>', 'file or directory inside the volume ("/" for everything)')
      .argument(
        '<dest>',
        'destination: for a file, a new file or an existing directory; for a directory, the directory to create or fill (paths ' +
          'already there are refused unless --overwrite or --skip-existing)',
      )
      .option('--streams', 'also write alternate data streams, as NAME:STREAM files beside each file')
      .addOption(
        new Option('--overwrite', 'replace files and links that already exist at the destination (never directories)').conflicts(
          'skipExisting',
        ),
      )
      .option('--skip-existing', 'keep paths that already exist at the destination and extract the rest'),
  ).action(async (path: string, dest: string, o: ExtractOptions) => {
    const out = new Output(o);
    const existing: ExistingPolicy = o.overwrite ? 'overwrite' : o.skipExisting ? 'skip' : 'refuse';
    const summary = await withNtfsVolume(o, (volume, label) =>
      withInterrupt((signal) =>
        extract(volume, label, path, dest, {
          streams: !!o.streams,
          existing,
          signal,
          onError: (e) => out.info(`diskarc: ${e.path}: ${e.message}`),
        }),
      ),
    );
    out.result(summary, () => {
      const parts = [`${summary.files} files`, `${summary.directories} directories`, `${summary.symlinks} links`];
      if (summary.hardLinks) parts.push(`${summary.hardLinks} hard links`);
      if (o.streams) parts.push(`${summary.streams} streams`);
      if (summary.replaced) parts.push(`${summary.replaced} replaced`);
      if (summary.skipped) parts.push(`${summary.skipped} existing paths skipped`);
      return `extracted ${parts.join(', ')} (${formatBytes(summary.bytes)}) to ${summary.destination} in ${summary.seconds.toFixed(2)} s`;
    });
    if (summary.errors.length) {
      throw new DiskarcError('EFS', `${summary.errors.length} of the entries could not be extracted (listed above)`, {
        errors: summary.errors,
      });
    }
  });
}

export interface ExtractOpts {
  streams: boolean;
  /** Default 'refuse': any existing path (but a directory where one goes) fails before anything is written. */
  existing?: ExistingPolicy;
  signal?: AbortSignal;
  onError?: (e: { path: string; message: string }) => void;
}

/** Extracts `path` of `volume` to `dest`; see the module comment for the rules. */
export async function extract(volume: NtfsVolume, label: string, path: string, dest: string, opts: ExtractOpts): Promise<ExtractSummary> {
  const started = performance.now();
  const policy = opts.existing ?? 'refuse';
  const summary: ExtractSummary = {
    source: label,
    path,
    destination: dest,
    files: 0,
    directories: 0,
    symlinks: 0,
    hardLinks: 0,
    streams: 0,
    bytes: 0,
    skipped: 0,
    replaced: 0,
    seconds: 0,
    errors: [],
  };
  const top = await volume.stat(path);
  /** Where the extracted entries are on the volume (links in `path` followed): link targets are presented from there. */
  const topAt = await volume.realpath(path);
  const single = top.type !== 'directory';
  const singleTarget =
    single &&
    (await lstat(dest).then(
      (s) => s.isDirectory(),
      () => false,
    ))
      ? join(dest, top.name)
      : dest;
  // Only a destination that already has something in it can conflict; a new one needs no look.
  const merging = await hasEntries(single ? singleTarget : dest, single);
  if (merging) await checkConflicts(volume, path, top, dest, singleTarget, opts.streams, policy);
  /** First extracted path of each multiply-linked record (resolves once written; undefined if that failed). */
  const seenRecords = new Map<number, Promise<string | undefined>>();
  const dirTimes: Array<[string, NtfsEntry]> = [];
  /** Walk paths of existing non-directories kept in place of a directory (--skip-existing): nothing below them is written. */
  const skippedDirs = new Set<string>();

  /** Clears the way for writing `target` when merging: false to skip it (kept), true to go on. */
  const makeRoom = async (target: string, isDirectory: boolean): Promise<boolean> => {
    if (!merging) return true;
    const st = await lstat(target).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!st || (isDirectory && st.isDirectory())) return true;
    if (policy === 'skip') {
      summary.skipped++;
      return false;
    }
    if (policy !== 'overwrite' || st.isDirectory())
      throw new DiskarcError('EDEST', `${target} appeared while extracting; it was not overwritten`, { path: target });
    await unlink(target);
    summary.replaced++;
    return true;
  };

  const one = async (rel: string, entry: NtfsEntry, target: string, volumePath: string, walkPath = '') => {
    if (opts.signal?.aborted)
      throw new DiskarcError('EINTR', 'extract interrupted; the files written so far are complete, the last one may be partial');
    try {
      if (!(await makeRoom(target, entry.type === 'directory'))) {
        if (entry.type === 'directory') skippedDirs.add(walkPath);
        return;
      }
      if (entry.type === 'directory') {
        await mkdir(target, { recursive: true });
        dirTimes.push([target, entry]);
        summary.directories++;
        if (opts.streams) await writeStreams(volume, rel, entry, target, summary, makeRoom);
      } else if (entry.type === 'symlink') {
        // The target as the mount presents it, so the link resolves the same in both.
        await symlink(presentTarget(entry.linkTarget!, volumePath), target);
        await lutimes(target, entry.atime, entry.mtime);
        summary.symlinks++;
      } else {
        const first = entry.links > 1 ? seenRecords.get(entry.mftRecord) : undefined;
        const firstPath = first && (await first);
        if (firstPath) {
          await link(firstPath, target);
          summary.hardLinks++;
          return;
        }
        let written!: (path: string | undefined) => void;
        if (entry.links > 1) seenRecords.set(entry.mftRecord, new Promise((resolve) => (written = resolve)));
        try {
          // By record, not by path: a tree walk already knows it, and deep paths need no re-resolution.
          await writeFile(await volume.openStream(await volume.fileRecordOf(entry.mftRecord), '', rel), target, entry, summary);
          written?.(target);
        } catch (e) {
          written?.(undefined);
          throw e;
        }
        summary.files++;
        if (opts.streams) await writeStreams(volume, rel, entry, target, summary, makeRoom);
      }
    } catch (e) {
      if (!isDiskarcError(e)) {
        // A failing write, mkdir, symlink or utimes on the destination side.
        const err = e as NodeJS.ErrnoException;
        if (typeof err?.code === 'string')
          throw new DiskarcError('EDEST', `cannot write ${target}: ${err.message}`, { path: target }, { cause: e });
        throw e;
      }
      if (e.code === 'EINTR' || e.code === 'EDEST') throw e;
      const err = { path: '/' + rel.replace(/^\/+/, ''), code: e.code, message: e.message };
      summary.errors.push(err);
      opts.onError?.(err);
    }
  };

  if (!single) {
    await mkdir(dest, { recursive: true }).catch((e) => {
      throw new DiskarcError('EDEST', `cannot create ${dest}: ${(e as Error).message}`, { dest }, { cause: e });
    });
    dirTimes.push([dest, top]);
    const base = path.replace(/\/+$/, '');
    const at = topAt.replace(/\/$/, '');
    // Directories are created in walk order; files are written up to FILE_CONCURRENCY at a time.
    const inflight = new Set<Promise<void>>();
    try {
      for await (const item of walkTree(volume, path)) {
        checkName(item.entry.name, item.path);
        if (skippedDirs.size && underSkipped(item.path, skippedDirs)) continue;
        const task = one(`${base}/${item.path}`, item.entry, join(dest, ...item.path.split('/')), `${at}/${item.path}`, item.path);
        if (item.entry.type === 'directory') {
          await task;
          continue;
        }
        const tracked: Promise<void> = task.finally(() => inflight.delete(tracked));
        inflight.add(tracked);
        if (inflight.size >= FILE_CONCURRENCY) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    } finally {
      await Promise.allSettled(inflight);
    }
  } else {
    await one(path, top, singleTarget, topAt);
  }
  // Directory mtimes last, deepest first: writing their contents changed them.
  for (const [dir, entry] of dirTimes.reverse()) {
    await utimes(dir, entry.atime, entry.mtime).catch((e) => {
      throw new DiskarcError('EDEST', `cannot set the times of ${dir}: ${(e as Error).message}`, { path: dir }, { cause: e });
    });
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/** Refuses names that would escape the destination (only a corrupt volume has them). */
function checkName(name: string, rel: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new DiskarcError('EFS', `refusing to extract unsafe name ${JSON.stringify(name)} at ${rel} (corrupt directory?)`, { path: rel });
  }
}

function underSkipped(walkPath: string, skipped: Set<string>): boolean {
  for (let i = walkPath.indexOf('/'); i >= 0; i = walkPath.indexOf('/', i + 1)) if (skipped.has(walkPath.slice(0, i))) return true;
  return false;
}

/** Whether `path` exists with something in it: a non-empty directory, or (for a single file) anything. */
async function hasEntries(path: string, single: boolean): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return false;
  if (!st.isDirectory()) return true;
  if (single) return true;
  return (await readdir(path)).length > 0;
}

/**
 * Looks at every destination path before anything is written. Refused (EDEST, nothing written):
 * any existing path without a policy; a directory where a file or link goes even with --overwrite
 * (directories are never removed); a non-directory in the way of DEST itself for a tree.
 */
async function checkConflicts(
  volume: NtfsVolume,
  path: string,
  top: NtfsEntry,
  dest: string,
  singleTarget: string,
  streams: boolean,
  policy: ExistingPolicy,
): Promise<void> {
  const existing: string[] = [];
  const blocking: string[] = [];
  let count = 0;
  const look = async (target: string, isDirectory: boolean) => {
    const st = await lstat(target).catch(() => undefined);
    if (!st || (isDirectory && st.isDirectory())) return;
    count++;
    if (existing.length < CONFLICTS_NAMED) existing.push(target);
    if (st.isDirectory() && blocking.length < CONFLICTS_NAMED) blocking.push(target);
  };
  const lookWithStreams = async (target: string, e: NtfsEntry) => {
    await look(target, e.type === 'directory');
    if (streams) for (const s of e.streams) await look(`${target}:${s}`, false);
  };
  if (top.type !== 'directory') await lookWithStreams(singleTarget, top);
  else {
    const st = await lstat(dest);
    if (!st.isDirectory()) throw new DiskarcError('EDEST', `${dest} exists and is not a directory; nothing was written`, { dest });
    for await (const item of walkTree(volume, path)) await lookWithStreams(join(dest, ...item.path.split('/')), item.entry);
  }
  if (count === 0 || policy === 'skip') return;
  const more = (n: number, shown: string[]) => shown.join(', ') + (n > shown.length ? `, … (${n - shown.length} more)` : '');
  if (policy === 'refuse') {
    throw new DiskarcError(
      'EDEST',
      `${count} of the paths to extract already exist in ${dest}: ${more(count, existing)}; nothing was written (--overwrite ` +
        `replaces them, --skip-existing keeps them)`,
      { dest, conflicts: existing, conflictCount: count },
    );
  }
  if (blocking.length) {
    throw new DiskarcError(
      'EDEST',
      `directories stand where files or links would be written: ${blocking.join(', ')}; --overwrite never removes a directory, ` +
        `nothing was written (--skip-existing keeps them)`,
      { dest, conflicts: blocking },
    );
  }
}

type MakeRoom = (target: string, isDirectory: boolean) => Promise<boolean>;

async function writeStreams(
  volume: NtfsVolume,
  rel: string,
  entry: NtfsEntry,
  target: string,
  summary: ExtractSummary,
  makeRoom: MakeRoom,
): Promise<void> {
  for (const name of entry.streams) {
    checkName(name, `${rel}:${name}`);
    if (!(await makeRoom(`${target}:${name}`, false))) continue;
    await writeFile(
      await volume.openStream(await volume.fileRecordOf(entry.mftRecord), name, `${rel}:${name}`),
      `${target}:${name}`,
      entry,
      summary,
    );
    summary.streams++;
  }
}

/** Writes only the data extents (holes stay holes), sets the size, then the times. */
async function writeFile(src: BlockSource, target: string, entry: NtfsEntry, summary: ExtractSummary): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(target, 'wx');
  } catch (e) {
    throw new DiskarcError('EDEST', `cannot create ${target}: ${(e as Error).message}`, { path: target }, { cause: e });
  }
  try {
    for (const ext of await src.extents(0, src.size)) {
      if (ext.kind !== 'data') continue;
      for (let off = ext.offset; off < ext.offset + ext.length; off += CHUNK) {
        const buf = await src.read(off, Math.min(CHUNK, ext.offset + ext.length - off));
        await fh.write(buf, 0, buf.length, off);
        summary.bytes += buf.length;
      }
    }
    await fh.truncate(src.size);
  } finally {
    await fh.close();
    await src.close();
  }
  await utimes(target, entry.atime, entry.mtime);
}
