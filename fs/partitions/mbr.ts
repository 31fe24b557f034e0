// Master Boot Record: the four primary entries in sector 0, the disk signature, and the chain of
// Extended Boot Records holding logical partitions (numbered 5+ in chain order, as Linux does).
// Layout: the classic IBM PC partition table (UEFI spec 5.2.1 "Legacy MBR"; EBR per the same entry format).
import { DiskarcError } from '../../src/errors.js';
import type { BlockSource } from '../../src/block/source.js';
import { decode, partitionLayout, type Decoded } from './fields.js';
import { mbrTypeName } from './type-names.js';
import type { Partition, PartitionTable } from './types.js';

/** Sector 0 (and each EBR): where the table and signatures sit. */
export const mbrSectorLayout = partitionLayout('MBR sector', {
  diskSignature: { offset: 440, type: 'u32le' },
  bootSignature: { offset: 510, type: 'u16le' },
});

/** One 16-byte partition entry; four of them start at byte 446. */
export const mbrEntryLayout = partitionLayout('MBR partition entry', {
  status: { offset: 0, type: 'u8' },
  chsFirst: { offset: 1, type: 'bytes', size: 3 },
  type: { offset: 4, type: 'u8' },
  chsLast: { offset: 5, type: 'bytes', size: 3 },
  firstLba: { offset: 8, type: 'u32le' },
  sectors: { offset: 12, type: 'u32le' },
});

export const MBR_ENTRY_TABLE = 446;
export const MBR_ENTRY_SIZE = 16;
export const MBR_BOOT_SIGNATURE = 0xaa55;
export const MBR_SECTOR_BYTES = 512;
/** Type byte of the protective MBR entry covering a GPT disk. */
export const MBR_TYPE_GPT_PROTECTIVE = 0xee;
/** Linux's limit on partitions per disk; a longer EBR chain is corrupt, not a real disk. */
export const MAX_LOGICAL_PARTITIONS = 252;

export type MbrEntry = Decoded<typeof mbrEntryLayout> & { slot: number };

export interface MbrSector {
  diskSignature: number;
  entries: MbrEntry[];
}

export function isExtendedType(type: number): boolean {
  return type === 0x05 || type === 0x0f || type === 0x85;
}

/**
 * Decodes a 512-byte MBR or EBR sector, or returns null when it is not one: no 0x55AA signature,
 * or (sector 0 only, with `strict`) a boot indicator other than 0x00/0x80 — then the sector is
 * boot code of a filesystem, not a partition table (Linux's msdos parser applies the same test).
 */
export function parseMbrSector(sector: Buffer, what: string, strict: boolean): MbrSector | null {
  const head = decode(sector, mbrSectorLayout, 0, what);
  if (head.bootSignature !== MBR_BOOT_SIGNATURE) return null;
  const entries: MbrEntry[] = [];
  for (let slot = 0; slot < 4; slot++) {
    const e = decode(sector, mbrEntryLayout, MBR_ENTRY_TABLE + slot * MBR_ENTRY_SIZE, `${what} entry ${slot + 1}`);
    if (strict && e.status !== 0x00 && e.status !== 0x80) return null;
    entries.push({ ...e, slot });
  }
  return { diskSignature: head.diskSignature, entries };
}

export function isProtectiveMbr(mbr: MbrSector): boolean {
  return mbr.entries.some((e) => e.type === MBR_TYPE_GPT_PROTECTIVE);
}

function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0');
}

/** Reads the table whose sector 0 is `mbr`: primaries, then the logical partitions of the first extended one. */
export async function readMbrTable(source: BlockSource, mbr: MbrSector, sectorSize: number): Promise<PartitionTable> {
  const diskSectors = Math.floor(source.size / sectorSize);
  const sig = hex(mbr.diskSignature, 8);
  const warnings: string[] = [];
  const partitions: Partition[] = [];
  const make = (index: number, e: MbrEntry, firstLba: number): Partition => {
    const p: Partition = {
      index,
      start: firstLba * sectorSize,
      size: e.sectors * sectorSize,
      type: `0x${hex(e.type, 2)}`,
      uuid: `${sig}-${hex(index, 2)}`,
    };
    const name = mbrTypeName(e.type);
    if (name) p.typeName = name;
    if (e.status === 0x80) p.bootable = true;
    if (isExtendedType(e.type)) p.extended = true;
    if (firstLba + e.sectors > diskSectors) {
      warnings.push(
        `partition ${index} (sectors ${firstLba}–${firstLba + e.sectors - 1}) extends beyond the end of the disk ` +
          `(${diskSectors} sectors): image truncated?`,
      );
    }
    return p;
  };

  let extended: MbrEntry | undefined;
  for (const e of mbr.entries) {
    if (e.type === 0 || e.sectors === 0) continue;
    partitions.push(make(e.slot + 1, e, e.firstLba));
    if (isExtendedType(e.type)) {
      if (extended)
        warnings.push(`more than one extended partition; only the logical partitions of partition ${extended.slot + 1} are read`);
      else extended = e;
    }
  }
  if (extended) partitions.push(...(await readLogicalPartitions(source, extended, sectorSize, make, warnings)));
  return { scheme: 'mbr', diskId: `0x${sig}`, sectorSize, partitions, warnings };
}

/**
 * Walks the EBR chain. Each EBR's first entry is a logical partition relative to that EBR; its
 * first extended-type entry links to the next EBR, relative to the start of the extended partition.
 * A chain that loops, leaves the extended partition, or runs past Linux's partition limit is
 * corrupt: EFS naming the EBR. One that runs off the end of a truncated image stops with a warning.
 */
async function readLogicalPartitions(
  source: BlockSource,
  extended: MbrEntry,
  sectorSize: number,
  make: (index: number, e: MbrEntry, firstLba: number) => Partition,
  warnings: string[],
): Promise<Partition[]> {
  const out: Partition[] = [];
  const extStart = extended.firstLba;
  const extEnd = extStart + extended.sectors;
  const visited = new Set<number>();
  let ebrLba = extStart;
  let index = 5;
  for (;;) {
    const what = `extended boot record at sector ${ebrLba}`;
    if (visited.has(ebrLba)) throw new DiskarcError('EFS', `the extended partition's chain loops back to the ${what}`, { lba: ebrLba });
    if (visited.size >= MAX_LOGICAL_PARTITIONS)
      throw new DiskarcError('EFS', `the extended partition's chain has more than ${MAX_LOGICAL_PARTITIONS} records`, { lba: ebrLba });
    visited.add(ebrLba);
    if (ebrLba < extStart || ebrLba >= extEnd) {
      throw new DiskarcError('EFS', `${what} lies outside the extended partition (sectors ${extStart}–${extEnd - 1})`, { lba: ebrLba });
    }
    if ((ebrLba + 1) * sectorSize > source.size) {
      // A truncated image: keep what was readable rather than refuse the whole disk.
      warnings.push(`${what} lies beyond the end of the disk (image truncated?); logical partitions from ${index} on are missing`);
      return out;
    }
    const ebr = parseMbrSector(await source.read(ebrLba * sectorSize, MBR_SECTOR_BYTES), what, false);
    if (!ebr) throw new DiskarcError('EFS', `${what} has no 0x55AA signature`, { lba: ebrLba });
    const data = ebr.entries.find((e) => e.type !== 0 && e.sectors !== 0 && !isExtendedType(e.type));
    if (data) out.push(make(index++, data, ebrLba + data.firstLba));
    const link = ebr.entries.find((e) => isExtendedType(e.type) && e.sectors !== 0);
    if (!link) return out;
    ebrLba = extStart + link.firstLba;
  }
}
