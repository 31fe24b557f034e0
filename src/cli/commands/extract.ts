// `diskarc extract`: copies a file or a whole tree out of an NTFS volume — sparse files stay
// sparse, mtimes are kept, links become symlinks, hard links stay hard links, and with
// --streams alternate data streams become `name:stream` files. A file that cannot be read is
// reported and skipped; the command then fails with EFS after extracting everything else.
import { link, lstat, lutimes, mkdir, open, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { walkTree, type NtfsEntry, type NtfsVolume } from '../../../fs/ntfs/index.js';
import type { BlockSource } from '../../block/source.js';
import { DiskarcError, isDiskarcError } from '../../errors.js';
import { withInterrupt } from '../interrupt.js';
import { Output, formatBytes } from '../output.js';
import { ntfsSourceOptions, withNtfsVolume, type NtfsSourceOptions } from './ls.js';

const CHUNK = 1 << 20;
/** Files written concurrently during a tree extraction (overlaps archive reads with file creation). */
const FILE_CONCURRENCY = 8;

interface ExtractOptions extends NtfsSourceOptions {
  streams?: boolean;
}

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
  seconds: number;
  errors: Array<{ path: string; code: string; message: string }>;
}

export function register(program: Command): void {
  ntfsSourceOptions(
    program
      .command('extract')
      .description('copy a file or directory tree out of an NTFS volume (sparse, with mtimes, links as symlinks)')
      .argument('<path>', 'file or directory inside the volume ("/" for everything)')
      .argument('<dest>', 'destination: for a file, a new file or an existing directory; for a directory, the directory to create or fill')
      .option('--streams', 'also write alternate data streams, as NAME:STREAM files beside each file'),
  ).action(async (path: string, dest: string, o: ExtractOptions) => {
    const out = new Output(o);
    const summary = await withNtfsVolume(o, (volume, label) => withInterrupt((signal) => extract(volume, label, path, dest, { streams: !!o.streams, signal, onError: (e) => out.info(`diskarc: ${e.path}: ${e.message}`) })));
    out.result(summary, () => {
      const parts = [`${summary.files} files`, `${summary.directories} directories`, `${summary.symlinks} links`];
      if (summary.hardLinks) parts.push(`${summary.hardLinks} hard links`);
      if (o.streams) parts.push(`${summary.streams} streams`);
      return `extracted ${parts.join(', ')} (${formatBytes(summary.bytes)}) to ${summary.destination} in ${summary.seconds.toFixed(2)} s`;
    });
    if (summary.errors.length) {
      throw new DiskarcError('EFS', `${summary.errors.length} of the entries could not be extracted (listed above)`, { errors: summary.errors });
    }
  });
}

export interface ExtractOpts {
  streams: boolean;
  signal?: AbortSignal;
  onError?: (e: { path: string; message: string }) => void;
}

/** Extracts `path` of `volume` to `dest`; see the module comment for the rules. */
export async function extract(volume: NtfsVolume, label: string, path: string, dest: string, opts: ExtractOpts): Promise<ExtractSummary> {
  const started = performance.now();
  const summary: ExtractSummary = { source: label, path, destination: dest, files: 0, directories: 0, symlinks: 0, hardLinks: 0, streams: 0, bytes: 0, seconds: 0, errors: [] };
  const top = await volume.stat(path);
  /** First extracted path of each multiply-linked record (resolves once written; undefined if that failed). */
  const seenRecords = new Map<number, Promise<string | undefined>>();
  const dirTimes: Array<[string, NtfsEntry]> = [];

  const one = async (rel: string, entry: NtfsEntry, target: string) => {
    if (opts.signal?.aborted) throw new DiskarcError('EINTR', 'extract interrupted; the files written so far are complete, the last one may be partial');
    try {
      if (entry.type === 'directory') {
        await mkdir(target, { recursive: true });
        dirTimes.push([target, entry]);
        summary.directories++;
        if (opts.streams) await writeStreams(volume, rel, entry, target, summary);
      } else if (entry.type === 'symlink') {
        await symlink(entry.linkTarget!, target);
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
        if (opts.streams) await writeStreams(volume, rel, entry, target, summary);
      }
    } catch (e) {
      if (!isDiskarcError(e)) {
        // A failing write, mkdir, symlink or utimes on the destination side.
        const err = e as NodeJS.ErrnoException;
        if (typeof err?.code === 'string') throw new DiskarcError('EDEST', `cannot write ${target}: ${err.message}`, { path: target }, { cause: e });
        throw e;
      }
      if (e.code === 'EINTR' || e.code === 'EDEST') throw e;
      const err = { path: '/' + rel.replace(/^\/+/, ''), code: e.code, message: e.message };
      summary.errors.push(err);
      opts.onError?.(err);
    }
  };

  if (top.type === 'directory') {
    await mkdir(dest, { recursive: true }).catch((e) => {
      throw new DiskarcError('EDEST', `cannot create ${dest}: ${(e as Error).message}`, { dest }, { cause: e });
    });
    dirTimes.push([dest, top]);
    const base = path.replace(/\/+$/, '');
    // Directories are created in walk order; files are written up to FILE_CONCURRENCY at a time.
    const inflight = new Set<Promise<void>>();
    try {
      for await (const item of walkTree(volume, path)) {
        checkName(item.entry.name, item.path);
        const task = one(`${base}/${item.path}`, item.entry, join(dest, ...item.path.split('/')));
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
    const isDir = await lstat(dest).then((s) => s.isDirectory(), () => false);
    await one(path, top, isDir ? join(dest, top.name) : dest);
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

async function writeStreams(volume: NtfsVolume, rel: string, entry: NtfsEntry, target: string, summary: ExtractSummary): Promise<void> {
  for (const name of entry.streams) {
    checkName(name, `${rel}:${name}`);
    await writeFile(await volume.openStream(await volume.fileRecordOf(entry.mftRecord), name, `${rel}:${name}`), `${target}:${name}`, entry, summary);
    summary.streams++;
  }
}

/** Writes only the data extents (holes stay holes), sets the size, then the times. */
async function writeFile(src: BlockSource, target: string, entry: NtfsEntry, summary: ExtractSummary): Promise<void> {
  let fh;
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

