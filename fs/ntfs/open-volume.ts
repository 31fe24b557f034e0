// Finds the NTFS volume on a source: the source itself when it starts with an NTFS boot sector,
// otherwise the disk's only NTFS partition. Several NTFS partitions need an explicit `:pN`.
import type { BlockSource } from '../../src/block/source.js';
import { DiskarcError } from '../../src/errors.js';
import { openPartition, readPartitionTable } from '../partitions/index.js';
import { looksLikeNtfs } from './boot-sector.js';
import { NtfsVolume } from './volume.js';

export interface LocatedVolume {
  volume: NtfsVolume;
  /** Partition number chosen automatically, when the source was a partitioned disk. */
  partition?: number;
}

export async function openNtfsOnSource(source: BlockSource, label: string): Promise<LocatedVolume> {
  if (source.size >= 512 && looksLikeNtfs(await source.read(0, 512))) return { volume: await NtfsVolume.open(source) };
  const table = await readPartitionTable(source);
  if (!table) throw new DiskarcError('EFS', `${label} is neither an NTFS volume nor a partitioned disk`, { source: label });
  const ntfs = table.partitions.filter((p) => p.filesystem === 'ntfs');
  if (ntfs.length === 1) return { volume: await NtfsVolume.open(openPartition(source, ntfs[0])), partition: ntfs[0].index };
  if (ntfs.length === 0) {
    const found = table.partitions.map((p) => `p${p.index}${p.filesystem ? ` (${p.filesystem})` : ''}`).join(', ') || 'none';
    throw new DiskarcError('EFS', `${label} has no NTFS partition (partitions: ${found})`, { source: label });
  }
  throw new DiskarcError(
    'EUSAGE',
    `${label} has ${ntfs.length} NTFS partitions (${ntfs.map((p) => `p${p.index}`).join(', ')}); name one as ${label}:pN`,
    {
      source: label,
      partitions: ntfs.map((p) => p.index),
    },
  );
}
