// `diskarc ls`: lists files inside the NTFS volume of an archived disk or an image, like ls
// (-l long form, -R recursive). Also exports the source options and volume opener that
// `cat` and `extract` share, so all three name their source the same way.
import { Option, type Command } from 'commander';
import { type NtfsVolume, openNtfsOnSource, walkTree, type NtfsEntry } from '../../../fs/ntfs/index.js';
import { presentTarget } from '../../../fs/tree/ntfs-subtree.js';
import { isDiskarcError } from '../../errors.js';
import { cacheOption, commonOptions } from '../options.js';
import { Output, formatBytes } from '../output.js';
import { openSourceRefFromCli, type SourceRefCliOptions } from '../source-ref.js';

export type NtfsSourceOptions = SourceRefCliOptions;

/** Adds -a/-s/--image (+ cache, --json, --verbose) to a command that reads an NTFS volume. */
export function ntfsSourceOptions(cmd: Command): Command {
  return commonOptions(
    cacheOption(
      cmd
        .addOption(new Option('-a, --archive <dir>', 'archive directory').env('DISKARC_ARCHIVE'))
        .option('-s, --stream <stream>', 'stream id, prefix or name; STREAM:pN names partition N (default: the only NTFS partition)')
        .option('--image <file>', 'a raw disk/partition image or block device instead of an archived stream (FILE:pN for a partition)'),
    ),
  );
}

/** Opens the source and its NTFS volume, runs `fn`, and closes both. */
export async function withNtfsVolume<T>(o: NtfsSourceOptions, fn: (volume: NtfsVolume, label: string) => Promise<T>): Promise<T> {
  const opened = await openSourceRefFromCli(o);
  try {
    const { volume, partition } = await openNtfsOnSource(opened.source, opened.label);
    try {
      return await fn(volume, partition ? `${opened.label}:p${partition}` : opened.label);
    } finally {
      await volume.close();
    }
  } finally {
    await opened.close();
  }
}

interface LsOptions extends NtfsSourceOptions {
  long?: boolean;
  recursive?: boolean;
  system?: boolean;
}

export interface LsRow {
  path: string;
  name: string;
  type: NtfsEntry['type'];
  size: number;
  mtime: string;
  atime: string;
  ctime: string;
  birthtime: string;
  mftRecord: number;
  attributes: number;
  links: number;
  /** A link's target as the mount's readlink and extract give it (drive-absolute made relative); `size` is its length. */
  linkTarget?: string;
  /** A link's target as stored on the volume ('/' for '\\'), when it differs from linkTarget. */
  storedTarget?: string;
  streams: Array<{ name: string; size: number }>;
  unreadable?: string;
  compression?: string;
}

export function register(program: Command): void {
  ntfsSourceOptions(
    program
      .command('ls')
      .description('list files in the NTFS volume of an archived disk (-a DIR -s STREAM[:pN]) or an image (--image FILE[:pN])')
      .argument('[path]', 'file or directory inside the volume, "/"-separated, case-insensitive', '/')
      .option('-l, --long', 'long form: type, size, modification time, alternate data streams, link targets')
      .option('-R, --recursive', 'list subdirectories recursively (paths relative to PATH)')
      .option('--system', "include the root's NTFS metadata files ($MFT, $Bitmap, …)"),
  ).action(async (path: string, o: LsOptions) => {
    const out = new Output(o);
    await withNtfsVolume(o, async (volume, label) => {
      const target = await volume.stat(path);
      const rows: LsRow[] = [];
      // As ls(1): a link to a directory named on the command line is listed as that directory, unless -l.
      const listed = target.type === 'symlink' && !o.long ? await followedDirectory(volume, path) : target;
      if (listed.type !== 'directory') rows.push(row(target.name, target, await volume.realpath(path)));
      else {
        const dir = (await volume.realpath(path, { follow: true })).replace(/\/$/, '');
        if (o.recursive)
          for await (const item of walkTree(volume, path, { system: o.system }))
            rows.push(row(item.path, item.entry, `${dir}/${item.path}`));
        else for (const e of await volume.readdir(path, { system: o.system })) rows.push(row(e.name, e, `${dir}/${e.name}`));
      }
      out.result({ source: label, path, entries: rows }, () => rows.map((r) => (o.long ? longLine(r) : r.path)).join('\n'));
    });
  });
}

/** What a link to a directory leads to, or the link itself when its target is not a directory or cannot be followed. */
async function followedDirectory(volume: NtfsVolume, path: string): Promise<NtfsEntry> {
  try {
    const e = await volume.stat(path, { follow: true });
    if (e.type === 'directory') return e;
  } catch (e) {
    if (!isDiskarcError(e, 'ENOTFOUND')) throw e;
  }
  return volume.stat(path);
}

/** `volumePath` is where the entry is on the volume: a drive-absolute link target is presented relative to it. */
function row(path: string, e: NtfsEntry, volumePath: string): LsRow {
  const target = e.linkTarget === undefined ? undefined : presentTarget(e.linkTarget, volumePath);
  return {
    path,
    name: e.name,
    type: e.type,
    // A link's size is its target's length, as the mount (and lstat(2)) report it — not the bytes storing it.
    size: target !== undefined ? Buffer.byteLength(target) : e.size,
    mtime: e.mtime.toISOString(),
    atime: e.atime.toISOString(),
    ctime: e.ctime.toISOString(),
    birthtime: e.birthtime.toISOString(),
    mftRecord: e.mftRecord,
    attributes: e.attributes,
    links: e.links,
    ...(target !== undefined ? { linkTarget: target } : {}),
    ...(target !== undefined && target !== e.linkTarget ? { storedTarget: e.linkTarget } : {}),
    streams: e.streams.map((name) => ({ name, size: e.streamSizes[name] ?? 0 })),
    ...(e.unreadable ? { unreadable: e.unreadable } : {}),
    ...(e.compression ? { compression: e.compression } : {}),
  };
}

const typeChar = { file: '-', directory: 'd', symlink: 'l' } as const;

/** `-  1.2 MiB  2024-01-02 03:04:05  path [-> target]`, then one indented line per stream. */
function longLine(r: LsRow): string {
  const when = r.mtime.replace('T', ' ').replace(/\.\d+Z$/, '');
  const size = r.type === 'directory' ? '' : formatBytes(r.size);
  let line = `${typeChar[r.type]} ${size.padStart(10)}  ${when}  ${r.path}${r.type === 'directory' ? '/' : ''}`;
  if (r.linkTarget !== undefined) line += ` -> ${r.linkTarget}`;
  if (r.compression) line += `  [${r.compression}]`;
  if (r.unreadable) line += `  [${r.unreadable}]`;
  for (const s of r.streams) line += `\n  ${formatBytes(s.size).padStart(10)}  ${' '.repeat(19)}  ${r.path}:${s.name}`;
  return line;
}
