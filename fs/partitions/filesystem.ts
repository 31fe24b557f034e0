// Which filesystem (or other volume format) a block source holds, from the magic numbers in its
// first 68 KiB — the same signatures blkid probes. Pure over one buffer; the tests compare the
// answer with `blkid -p` on images made by the real mkfs tools. Names are blkid's TYPE names.
import type { BlockSource } from '../../src/block/source.js';
import { readFilesystemIdentity } from './filesystem-identity.js';

/** What `probeFilesystem` finds: blkid's TYPE, LABEL and UUID. */
export interface FilesystemInfo {
  type: string;
  label?: string;
  uuid?: string;
}

/** Covers the farthest signature we probe: btrfs's superblock at 64 KiB and a 64 KiB-page swap header. */
export const PROBE_BYTES = 64 * 1024 + 4096;

interface MagicProbe {
  type: string;
  offset: number;
  magic: Buffer;
}

const ascii = (s: string) => Buffer.from(s, 'latin1');

/** Fixed magic strings, most specific first. Boot-sector formats (NTFS, exFAT…) keep their OEM id at byte 3. */
const magicProbes: readonly MagicProbe[] = [
  { type: 'ntfs', offset: 3, magic: ascii('NTFS    ') },
  { type: 'exfat', offset: 3, magic: ascii('EXFAT   ') },
  { type: 'refs', offset: 3, magic: ascii('ReFS\0\0\0\0') },
  { type: 'BitLocker', offset: 3, magic: ascii('-FVE-FS-') },
  { type: 'xfs', offset: 0, magic: ascii('XFSB') },
  { type: 'squashfs', offset: 0, magic: ascii('hsqs') },
  { type: 'crypto_LUKS', offset: 0, magic: ascii('LUKS\xba\xbe') },
  { type: 'apfs', offset: 32, magic: ascii('NXSB') },
  { type: 'LVM2_member', offset: 512 + 24, magic: ascii('LVM2 001') },
  { type: 'btrfs', offset: 64 * 1024 + 64, magic: ascii('_BHRfS_M') },
];

/** Magics at 1024, where ext keeps its superblock too: checked after ext so an inode count cannot pose as one. */
const lateMagicProbes: readonly MagicProbe[] = [
  { type: 'f2fs', offset: 1024, magic: Buffer.from([0x10, 0x20, 0xf5, 0xf2]) },
  { type: 'hfsplus', offset: 1024, magic: ascii('H+\0\x04') },
  { type: 'hfsplus', offset: 1024, magic: ascii('HX\0\x05') },
];

function probeMagics(head: Buffer, probes: readonly MagicProbe[]): string | undefined {
  return probes.find((p) => has(head, p.offset, p.magic))?.type;
}

function has(buf: Buffer, offset: number, magic: Buffer): boolean {
  return offset + magic.length <= buf.length && buf.subarray(offset, offset + magic.length).equals(magic);
}

/** ext2/3/4 superblock (at 1024): magic 0xEF53, and the feature bits that tell the generations apart (as blkid does). */
const EXT_SUPERBLOCK = 1024;
const ext = { magic: 56, featureCompat: 92, featureIncompat: 96, featureRoCompat: 100 } as const;
const EXT_COMPAT_HAS_JOURNAL = 0x4;
const EXT_INCOMPAT_JOURNAL_DEV = 0x8;
/** Features ext3 understands; anything beyond these makes it ext4. */
const EXT3_INCOMPAT_SUPPORTED = 0x2 | 0x4 | 0x10; // filetype, recover, meta_bg
const EXT3_RO_COMPAT_SUPPORTED = 0x1 | 0x2 | 0x4; // sparse_super, large_file, btree_dir

function probeExt(head: Buffer): string | undefined {
  const sb = EXT_SUPERBLOCK;
  if (head.length < sb + 104 || head.readUInt16LE(sb + ext.magic) !== 0xef53) return undefined;
  const compat = head.readUInt32LE(sb + ext.featureCompat);
  const incompat = head.readUInt32LE(sb + ext.featureIncompat);
  const roCompat = head.readUInt32LE(sb + ext.featureRoCompat);
  if (incompat & EXT_INCOMPAT_JOURNAL_DEV) return 'jbd';
  if (incompat & ~EXT3_INCOMPAT_SUPPORTED || roCompat & ~EXT3_RO_COMPAT_SUPPORTED) return 'ext4';
  return compat & EXT_COMPAT_HAS_JOURNAL ? 'ext3' : 'ext2';
}

/** Linux swap: "SWAPSPACE2" (or the old "SWAP-SPACE") in the last 10 bytes of the first page. */
function probeSwap(head: Buffer): string | undefined {
  for (const page of [4096, 8192, 16384, 65536]) {
    if (has(head, page - 10, ascii('SWAPSPACE2')) || has(head, page - 10, ascii('SWAP-SPACE'))) return 'swap';
  }
  return undefined;
}

/** ISO 9660: a volume descriptor "CD001" at sector 16 (2048-byte sectors). */
function probeIso9660(head: Buffer): string | undefined {
  return has(head, 32768 + 1, ascii('CD001')) ? 'iso9660' : undefined;
}

/**
 * FAT12/16/32: there is no single magic, so check the BIOS parameter block is sane (bytes per
 * sector, cluster size, reserved sectors, FAT count, media byte) and that the boot sector
 * says so (a "FAT" type string or the 0x55AA signature).
 */
function probeFat(head: Buffer): string | undefined {
  if (head.length < 512) return undefined;
  if (head[0] !== 0xeb && head[0] !== 0xe9) return undefined;
  const bytesPerSector = head.readUInt16LE(11);
  const sectorsPerCluster = head[13]!;
  const reserved = head.readUInt16LE(14);
  const fats = head[16]!;
  const media = head[21]!;
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || !pow2(sectorsPerCluster) || reserved === 0) return undefined;
  if (fats < 1 || fats > 2 || (media !== 0xf0 && media < 0xf8)) return undefined;
  const typeString = head.toString('latin1', 54, 57) === 'FAT' || head.toString('latin1', 82, 87) === 'FAT32';
  return typeString || head.readUInt16LE(510) === 0xaa55 ? 'vfat' : undefined;
}

/** Identifies the format whose signature is in `head` (the first PROBE_BYTES of a volume, or fewer). */
export function identifyFilesystem(head: Buffer): string | undefined {
  return (
    probeMagics(head, magicProbes) ??
    probeExt(head) ??
    probeMagics(head, lateMagicProbes) ??
    probeSwap(head) ??
    probeIso9660(head) ??
    probeFat(head)
  );
}

/** Reads the head of `source` and identifies its filesystem; undefined when nothing is recognised. */
export async function detectFilesystem(source: BlockSource): Promise<string | undefined> {
  const n = Math.min(source.size, PROBE_BYTES);
  if (n <= 0) return undefined;
  return identifyFilesystem(await source.read(0, n));
}

/** Like detectFilesystem, plus the filesystem's label and UUID where the format has them. */
export async function probeFilesystem(source: BlockSource): Promise<FilesystemInfo | undefined> {
  const n = Math.min(source.size, PROBE_BYTES);
  if (n <= 0) return undefined;
  const head = await source.read(0, n);
  const type = identifyFilesystem(head);
  return type ? { type, ...(await readFilesystemIdentity(type, head, source)) } : undefined;
}
