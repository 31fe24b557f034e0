// Partition tables on any block source: MBR (with extended/logical partitions) and GPT (with CRC
// checks and backup-header fallback), each partition opened as a window source, and the
// filesystem inside recognised by its magic. See docs/partitions.md.
import { DiskarcError, isDiskarcError } from '../../src/errors.js';
import type { BlockSource } from '../../src/block/source.js';
import { identifyFilesystem, probeFilesystem } from './filesystem.js';
import { PROBED_SECTOR_SIZES, readGptTable } from './gpt.js';
import { isProtectiveMbr, MBR_SECTOR_BYTES, parseMbrSector, readMbrTable, type MbrSector } from './mbr.js';
import type { Partition, PartitionTable } from './types.js';
import { WindowSource } from './window-source.js';

export type { Partition, PartitionScheme, PartitionTable } from './types.js';
export { WindowSource } from './window-source.js';
export { detectFilesystem, identifyFilesystem, probeFilesystem, type FilesystemInfo } from './filesystem.js';
export { gptTypeName, mbrTypeName } from './type-names.js';

export interface ReadPartitionTableOptions {
  /**
   * Logical sector size. By default GPT is probed at 512 and 4096 bytes; an MBR is read in 512-byte
   * sectors unless only 4096-byte sectors put filesystems in its partitions.
   */
  sectorSize?: number;
  /** Probe each partition for a filesystem (default true). */
  detectFilesystems?: boolean;
}

/** Boot-sector formats whose sector 0 carries 0x55AA but is a volume, not a partition table. */
const bootSectorFilesystems = new Set(['ntfs', 'exfat', 'vfat', 'refs', 'BitLocker']);

/**
 * Sector 0 of a bare NTFS/FAT/exFAT volume also ends in 55 AA and passes the boot-indicator test
 * (its table area is zeros or boot code). It is a volume, not an MBR, when it carries a filesystem
 * boot sector and no entry describes a partition inside the disk. (An MBR whose boot code kept an
 * old BPB, as GRUB's does, still has real entries.)
 */
function isVolumeBootSector(sector0: Buffer, mbr: MbrSector, diskSectors: number): boolean {
  if (!bootSectorFilesystems.has(identifyFilesystem(sector0) ?? '')) return false;
  return !mbr.entries.some((e) => e.type !== 0 && e.sectors !== 0 && e.firstLba >= 1 && e.firstLba + e.sectors <= diskSectors);
}

/**
 * Reads the partition table of a whole disk. Returns null when there is none (for instance the
 * source is itself a filesystem); throws DiskarcError 'EFS' when a table is there but malformed.
 */
export async function readPartitionTable(source: BlockSource, options: ReadPartitionTableOptions = {}): Promise<PartitionTable | null> {
  const { sectorSize } = options;
  if (sectorSize !== undefined && !PROBED_SECTOR_SIZES.includes(sectorSize as 512 | 4096)) {
    throw new DiskarcError('EUSAGE', `unsupported sector size ${sectorSize} (use 512 or 4096)`, { sectorSize });
  }
  if (source.size < MBR_SECTOR_BYTES) return null;
  const sector0 = await source.read(0, MBR_SECTOR_BYTES);
  const mbr = parseMbrSector(sector0, 'MBR (sector 0)', true);
  const detect = options.detectFilesystems !== false;
  let table: PartitionTable | null;
  if (!mbr || isProtectiveMbr(mbr)) {
    table = await readGptTable(source, sectorSize ? [sectorSize] : PROBED_SECTOR_SIZES);
    if (!table && mbr) {
      throw new DiskarcError(
        'EFS',
        'the MBR is a GPT protective MBR (type 0xEE) but no GPT header was found at LBA 1 or at the last LBA',
        {},
      );
    }
    if (table && detect) await detectPartitionFilesystems(source, table);
  } else if (isVolumeBootSector(sector0, mbr, source.size / (sectorSize ?? MBR_SECTOR_BYTES))) {
    table = null;
  } else if (sectorSize) {
    table = await readMbrTable(source, mbr, sectorSize);
    if (detect) await detectPartitionFilesystems(source, table);
  } else {
    table = await readMbrInferringSectorSize(source, mbr, detect);
  }
  if (table) table.warnings.push(...overlapWarnings(table));
  return table;
}

/** Partitions sharing sectors (the extended container excepted: its logicals lie inside it by design). */
function overlapWarnings(table: PartitionTable): string[] {
  const parts = table.partitions.filter((p) => !p.extended && p.size > 0).sort((a, b) => a.start - b.start);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const prev = parts[i - 1]!;
    const cur = parts[i]!;
    if (cur.start < prev.start + prev.size) out.push(`partitions ${prev.index} and ${cur.index} overlap`);
  }
  return out;
}

async function detectPartitionFilesystems(source: BlockSource, table: PartitionTable): Promise<void> {
  for (const p of table.partitions) {
    if (p.extended) continue;
    const fs = await probeFilesystem(openPartition(source, p));
    if (!fs) continue;
    p.filesystem = fs.type;
    if (fs.label !== undefined) p.label = fs.label;
    if (fs.uuid !== undefined) p.filesystemUuid = fs.uuid;
  }
}

/**
 * An MBR does not record its sector size. Read it in 512-byte sectors; only when that finds no
 * filesystem in any partition (or the EBR chain does not hold together) and 4096-byte sectors give
 * a table that fits the disk with filesystems in it, take 4096 — a 4Kn disk.
 */
async function readMbrInferringSectorSize(source: BlockSource, mbr: MbrSector, keepFilesystems: boolean): Promise<PartitionTable> {
  let small: PartitionTable | undefined;
  let smallError: unknown;
  try {
    small = await readMbrTable(source, mbr, MBR_SECTOR_BYTES);
    await detectPartitionFilesystems(source, small);
  } catch (e) {
    if (!isDiskarcError(e, 'EFS')) throw e;
    smallError = e;
  }
  const hasFilesystems = (t: PartitionTable) => t.partitions.some((p) => p.filesystem);
  let chosen = small;
  if (!small || !hasFilesystems(small)) {
    try {
      const large = await readMbrTable(source, mbr, 4096);
      await detectPartitionFilesystems(source, large);
      if (large.warnings.length === 0 && hasFilesystems(large)) chosen = large;
    } catch (e) {
      if (!isDiskarcError(e, 'EFS')) throw e;
    }
  }
  if (!chosen) throw smallError;
  if (!keepFilesystems) {
    for (const p of chosen.partitions) {
      delete p.filesystem;
      delete p.label;
      delete p.filesystemUuid;
    }
  }
  return chosen;
}

/** The partition as a block source of its own (a window on `source`, clipped to it). */
export function openPartition(source: BlockSource, partition: Pick<Partition, 'start' | 'size'>): WindowSource {
  return new WindowSource(source, partition.start, partition.size);
}
