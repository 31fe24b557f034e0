// GUID Partition Table: header at LBA 1 (and its backup at the last LBA), the entry array, both
// CRC32-checked; a damaged primary falls back to the backup. Logical sector size (512 or 4096)
// is found by probing where the "EFI PART" signature sits.
// Layouts: UEFI spec 2.10, 5.3.2 "GPT Header" and 5.3.3 "GPT Partition Entry Array".
import { crc32 } from 'node:zlib';
import { DiskarcError } from '../../src/errors.js';
import type { BlockSource } from '../../src/block/source.js';
import { decode, layoutSize, lbaToBytes, partitionLayout, type Decoded } from './fields.js';
import { isZeroGuid } from './guid.js';
import { gptTypeName } from './type-names.js';
import type { Partition, PartitionTable } from './types.js';

export const gptHeaderLayout = partitionLayout('GPT header', {
  signature: { offset: 0, type: 'ascii', size: 8 },
  revision: { offset: 8, type: 'u32le' },
  headerSize: { offset: 12, type: 'u32le' },
  headerCrc32: { offset: 16, type: 'u32le' },
  reserved: { offset: 20, type: 'u32le' },
  myLba: { offset: 24, type: 'bigu64le' },
  alternateLba: { offset: 32, type: 'bigu64le' },
  firstUsableLba: { offset: 40, type: 'bigu64le' },
  lastUsableLba: { offset: 48, type: 'bigu64le' },
  diskGuid: { offset: 56, type: 'guid' },
  partitionEntryLba: { offset: 72, type: 'bigu64le' },
  numberOfPartitionEntries: { offset: 80, type: 'u32le' },
  sizeOfPartitionEntry: { offset: 84, type: 'u32le' },
  partitionEntryArrayCrc32: { offset: 88, type: 'u32le' },
});

export const gptEntryLayout = partitionLayout('GPT partition entry', {
  partitionTypeGuid: { offset: 0, type: 'guid' },
  uniquePartitionGuid: { offset: 16, type: 'guid' },
  startingLba: { offset: 32, type: 'bigu64le' },
  endingLba: { offset: 40, type: 'bigu64le' },
  attributes: { offset: 48, type: 'bigu64le' },
  partitionName: { offset: 56, type: 'utf16le', size: 72 },
});

export const GPT_SIGNATURE = 'EFI PART';
export const GPT_HEADER_MIN_SIZE = layoutSize(gptHeaderLayout); // 92
export const GPT_ENTRY_MIN_SIZE = layoutSize(gptEntryLayout); // 128
/** Far above any real table (128 entries × 128 bytes = 16 KiB); bounds memory on a forged header. */
export const GPT_MAX_ENTRY_ARRAY_BYTES = 4 * 1024 * 1024;
export const PROBED_SECTOR_SIZES = [512, 4096] as const;

type GptHeader = Decoded<typeof gptHeaderLayout>;

/** Names of the attribute bits UEFI defines (5.3.3, table 5.8); bits 48–63 are type-specific. */
const attributeBitNames: Readonly<Record<number, string>> = {
  0: 'RequiredPartition',
  1: 'NoBlockIOProtocol',
  2: 'LegacyBIOSBootable',
};

/** A header that passed every check, with its entry array. */
interface ValidGpt {
  header: GptHeader;
  entries: Buffer;
}

/** What went wrong with one header; `signed` tells a damaged GPT from no GPT at all. */
type Attempt = ValidGpt | { problem: string; signed: boolean };

/**
 * Looks for a GPT. Returns null when no sector size shows a GPT signature at LBA 1 or at the
 * last LBA; throws EFS when a signature is there but no header and entry array pass their checks.
 */
export async function readGptTable(
  source: BlockSource,
  sectorSizes: readonly number[] = PROBED_SECTOR_SIZES,
): Promise<PartitionTable | null> {
  const problems: string[] = [];
  for (const ss of sectorSizes) {
    const lastLba = BigInt(Math.floor(source.size / ss) - 1);
    if (lastLba < 2n) continue;
    const primary = await readHeaderAt(source, ss, 1n, 'primary');
    if (!('problem' in primary)) {
      const warnings: string[] = [];
      const backupLba = primary.header.alternateLba;
      const backup =
        backupLba > 1n && backupLba <= lastLba
          ? await readHeaderAt(source, ss, backupLba, 'backup')
          : { problem: `backup GPT header location ${backupLba} is beyond the end of the disk`, signed: false };
      if ('problem' in backup) warnings.push(`${backup.problem} (the primary is intact)`);
      return buildTable(source, ss, primary, 'primary', warnings);
    }
    const backup = await readHeaderAt(source, ss, lastLba, 'backup');
    if (!('problem' in backup)) {
      return buildTable(source, ss, backup, 'backup', [`${primary.problem}; using the backup GPT header at LBA ${lastLba}`]);
    }
    if (hasSignature(primary) || hasSignature(backup)) problems.push(`with ${ss}-byte sectors: ${primary.problem}; ${backup.problem}`);
  }
  if (problems.length === 0) return null;
  throw new DiskarcError('EFS', `GPT is damaged beyond use: ${problems.join('; ')}`, { problems });
}

function hasSignature(a: Attempt): boolean {
  return !('problem' in a) || a.signed;
}

/** Reads and validates the header at `lba` and its entry array; returns what is wrong instead of throwing. */
async function readHeaderAt(source: BlockSource, ss: number, lba: bigint, which: 'primary' | 'backup'): Promise<Attempt> {
  const what = `${which} GPT header at LBA ${lba}`;
  const at = lbaToBytes(lba, ss, what);
  if (at + ss > source.size) return { problem: `${what} lies beyond the end of the disk`, signed: false };
  const sector = await source.read(at, ss);
  const h = decode(sector, gptHeaderLayout, 0, what);
  if (h.signature !== GPT_SIGNATURE) return { problem: `${what} has no "EFI PART" signature`, signed: false };
  const bad = (problem: string): Attempt => ({ problem, signed: true });
  if (h.headerSize < GPT_HEADER_MIN_SIZE || h.headerSize > ss) return bad(`${what} has an impossible header size ${h.headerSize}`);
  const copy = Buffer.from(sector.subarray(0, h.headerSize));
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== h.headerCrc32) return bad(`${what} fails its CRC32 check`);
  if (h.myLba !== lba) return bad(`${what} says it is at LBA ${h.myLba}`);
  if (h.firstUsableLba > h.lastUsableLba + 1n)
    return bad(`${what} has first usable LBA ${h.firstUsableLba} after last usable LBA ${h.lastUsableLba}`);
  const esize = h.sizeOfPartitionEntry;
  if (esize < GPT_ENTRY_MIN_SIZE || esize % GPT_ENTRY_MIN_SIZE !== 0 || (esize & (esize - 1)) !== 0 || esize > ss) {
    return bad(`${what} has an unsupported partition entry size ${esize}`);
  }
  const arrayBytes = h.numberOfPartitionEntries * esize;
  if (arrayBytes > GPT_MAX_ENTRY_ARRAY_BYTES)
    return bad(`${what} declares ${h.numberOfPartitionEntries} entries, too many for a real table`);
  if (h.partitionEntryLba < 1n) return bad(`${what} puts the entry array at LBA ${h.partitionEntryLba}`);
  const arrayAt = lbaToBytes(h.partitionEntryLba, ss, what);
  if (arrayAt + arrayBytes > source.size)
    return bad(`${what}: the entry array at LBA ${h.partitionEntryLba} runs beyond the end of the disk`);
  const entries = await source.read(arrayAt, arrayBytes);
  if (crc32(entries) !== h.partitionEntryArrayCrc32) return bad(`${what}: the partition entry array fails its CRC32 check`);
  return { header: h, entries };
}

function buildTable(source: BlockSource, ss: number, gpt: ValidGpt, which: 'primary' | 'backup', warnings: string[]): PartitionTable {
  const h = gpt.header;
  const diskSectors = BigInt(Math.floor(source.size / ss));
  if (h.lastUsableLba >= diskSectors) {
    warnings.push(`the GPT describes a disk of at least ${h.lastUsableLba + 1n} sectors but the disk has ${diskSectors}: image truncated?`);
  }
  const partitions: Partition[] = [];
  for (let i = 0; i < h.numberOfPartitionEntries; i++) {
    const off = i * h.sizeOfPartitionEntry;
    if (isZeroGuid(gpt.entries.subarray(off, off + 16))) continue;
    const what = `GPT entry ${i + 1}`;
    const e = decode(gpt.entries, gptEntryLayout, off, what);
    if (e.endingLba < e.startingLba) {
      throw new DiskarcError('EFS', `${what} ends (LBA ${e.endingLba}) before it starts (LBA ${e.startingLba})`, { entry: i + 1 });
    }
    const p: Partition = {
      index: i + 1,
      start: lbaToBytes(e.startingLba, ss, what),
      size: lbaToBytes(e.endingLba - e.startingLba + 1n, ss, what),
      type: e.partitionTypeGuid,
      uuid: e.uniquePartitionGuid,
    };
    const typeName = gptTypeName(e.partitionTypeGuid);
    if (typeName) p.typeName = typeName;
    if (e.partitionName) p.name = e.partitionName;
    if (e.attributes !== 0n) {
      p.attributes = `0x${e.attributes.toString(16).padStart(16, '0')}`;
      p.attributeFlags = attributeFlags(e.attributes);
      if (e.attributes & 4n) p.bootable = true;
    }
    if (e.startingLba < h.firstUsableLba || e.endingLba > h.lastUsableLba) {
      warnings.push(
        `partition ${i + 1} (LBA ${e.startingLba}–${e.endingLba}) lies outside the usable area ` +
          `(LBA ${h.firstUsableLba}–${h.lastUsableLba})`,
      );
    }
    partitions.push(p);
  }
  return {
    scheme: 'gpt',
    diskId: h.diskGuid,
    sectorSize: ss,
    header: which,
    usable: { start: lbaToBytes(h.firstUsableLba, ss, 'GPT header'), end: lbaToBytes(h.lastUsableLba + 1n, ss, 'GPT header') },
    partitions,
    warnings,
  };
}

/** Attribute bits in sfdisk's words: named bits, then the other bits as one "GUID:60,63" token. */
export function attributeFlags(attributes: bigint): string[] {
  const named: string[] = [];
  const guidBits: number[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if (!((attributes >> BigInt(bit)) & 1n)) continue;
    const name = attributeBitNames[bit];
    if (name) named.push(name);
    else guidBits.push(bit);
  }
  return guidBits.length ? [...named, `GUID:${guidBits.join(',')}`] : named;
}
