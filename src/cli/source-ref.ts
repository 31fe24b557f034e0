// Resolves what a command reads from: `-a DIR -s STREAM[:pN]` (an archived stream, optionally one
// partition of it) or `--image FILE[:pN]` (a raw image or block device). Every command that names
// a source goes through here, so `:pN` means the same everywhere.
import { existsSync } from 'node:fs';
import { Archive } from '../archive/archive.js';
import { FileBlockSource } from '../block/file-source.js';
import type { BlockSource } from '../block/source.js';
import { DiskarcError } from '../errors.js';
import { openPartition, readPartitionTable, type Partition, type PartitionTable } from '../../fs/partitions/index.js';
import type { StreamInfo } from '../archive/stream-info.js';
import { formatBytes } from './output.js';

export interface SourceRefOptions {
  /** Archive directory (-a, or $DISKARC_ARCHIVE); ignored when only --image is given. */
  archive?: string;
  /** Stream reference: id, unique id prefix or name, optionally followed by `:pN`. */
  stream?: string;
  /** Image file or block device, optionally followed by `:pN`. */
  image?: string;
  /** Slab-cache budget for the archive. */
  cacheBytes?: number;
}

export interface OpenedSource {
  /** What to read: the whole disk, or the partition's window when `:pN` was given. */
  source: BlockSource;
  /** How to name it to the user: "NAME[:pN]" for a stream, "FILE[:pN]" for an image. */
  label: string;
  /** The whole disk the source lies on. */
  disk: BlockSource;
  /** Set when the reference named a stream. */
  stream?: StreamInfo;
  /** Set when the reference named a partition, with the table it came from. */
  partition?: Partition;
  table?: PartitionTable;
  /** Closes the disk source and the archive (if any). */
  close(): Promise<void>;
}

const PARTITION_SUFFIX = /^(.+):p(\d+)$/;

/** Splits "NAME:pN" into the name and N; no suffix gives `partition: undefined`. */
export function splitPartitionSuffix(ref: string): { base: string; partition?: number } {
  const m = PARTITION_SUFFIX.exec(ref);
  if (!m) return { base: ref };
  const n = Number(m[2]);
  if (!Number.isSafeInteger(n) || n < 1) throw new DiskarcError('EUSAGE', `"${ref}": partition numbers start at 1 (p1, p2, …)`, { ref });
  return { base: m[1]!, partition: n };
}

export async function openSourceRef(opts: SourceRefOptions): Promise<OpenedSource> {
  if (opts.image !== undefined && opts.stream !== undefined) {
    throw new DiskarcError('EUSAGE', 'give either --image FILE or -a DIR -s STREAM, not both', {});
  }
  if (opts.image !== undefined) return openImage(opts.image);
  if (opts.stream !== undefined) {
    if (!opts.archive) throw new DiskarcError('EUSAGE', `-s ${opts.stream} needs an archive: -a DIR (or $DISKARC_ARCHIVE)`, {});
    return openStreamRef(opts.archive, opts.stream, opts.cacheBytes);
  }
  throw new DiskarcError(
    'EUSAGE',
    opts.archive
      ? `name a stream of ${opts.archive} with -s STREAM[:pN] (see diskarc list)`
      : 'name a source: -a DIR -s STREAM[:pN], or --image FILE[:pN]',
    {},
  );
}

async function openImage(ref: string): Promise<OpenedSource> {
  // A file whose own name ends in ":pN" is taken as that file.
  const { base, partition } = existsSync(ref) ? { base: ref, partition: undefined } : splitPartitionSuffix(ref);
  const disk = await FileBlockSource.open(base);
  return withPartition(disk, base, partition, () => disk.close());
}

async function openStreamRef(dir: string, ref: string, cacheBytes?: number): Promise<OpenedSource> {
  const archive = await Archive.open(dir, cacheBytes ? { cacheBytes } : {});
  try {
    // The whole reference first: a stream may itself be named "x:p1".
    let info: StreamInfo;
    let partition: number | undefined;
    try {
      info = await archive.resolveStream(ref);
    } catch (e) {
      const split = splitPartitionSuffix(ref);
      if (!(e instanceof DiskarcError && e.code === 'ENOSTREAM') || split.partition === undefined) throw e;
      info = await archive.resolveStream(split.base);
      partition = split.partition;
    }
    const disk = await archive.openStream(info.id);
    const opened = await withPartition(disk, info.name, partition, async () => {
      await disk.close();
      await archive.close();
    });
    return { ...opened, stream: info };
  } catch (e) {
    await archive.close();
    throw e;
  }
}

async function withPartition(
  disk: BlockSource,
  name: string,
  index: number | undefined,
  close: () => Promise<void>,
): Promise<OpenedSource> {
  if (index === undefined) return { source: disk, disk, label: name, close };
  try {
    const table = await readPartitionTable(disk);
    const label = `${name}:p${index}`;
    if (!table) {
      throw new DiskarcError(
        'EFS',
        `${name} has no partition table (MBR or GPT), so "${label}" names nothing; use ${name} without :p${index}`,
        { source: name, partition: index },
      );
    }
    const partition = table.partitions.find((p) => p.index === index);
    if (!partition) {
      const valid = table.partitions.map((p) => `p${p.index} (${[p.filesystem ?? p.typeName ?? p.type, formatBytes(p.size)].join(', ')})`);
      throw new DiskarcError(
        'ENOTFOUND',
        `${name} has no partition ${index}; its ${table.scheme.toUpperCase()} lists ${valid.length ? valid.join(', ') : 'no partitions'}`,
        {
          source: name,
          partition: index,
          partitions: table.partitions.map((p) => p.index),
        },
      );
    }
    return { source: openPartition(disk, partition), disk, label, partition, table, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The options of a command that names its source with -a/-s or --image (as commander parses them). */
export interface SourceRefCliOptions {
  archive?: string;
  stream?: string;
  image?: string;
  dataCacheSizeMib?: number;
  json?: boolean;
  verbose?: boolean;
}

/** openSourceRef for a command's parsed options. */
export function openSourceRefFromCli(o: SourceRefCliOptions): Promise<OpenedSource> {
  return openSourceRef({
    archive: o.archive,
    stream: o.stream,
    image: o.image,
    cacheBytes: o.dataCacheSizeMib ? o.dataCacheSizeMib * 1048576 : undefined,
  });
}
