// A recognised filesystem's label and UUID, read from the same superblocks blkid reads and spelled
// as blkid spells them (so `diskarc partitions` and `blkid -p` agree). Best effort by design: a
// label that cannot be read safely is simply absent — it never fails a partition listing.
// NTFS keeps its label in the $VOLUME_NAME attribute of MFT record 3 ($Volume), one extra read.
import type { BlockSource } from '../../src/block/source.js';
import { isDiskarcError } from '../../src/errors.js';

export interface FilesystemIdentity {
  label?: string;
  uuid?: string;
}

type Reader = (head: Buffer, source: BlockSource) => FilesystemIdentity | Promise<FilesystemIdentity>;

function latin1Field(head: Buffer, offset: number, size: number): string | undefined {
  if (offset + size > head.length) return undefined;
  const raw = head.subarray(offset, offset + size);
  const nul = raw.indexOf(0);
  const s = raw
    .subarray(0, nul < 0 ? raw.length : nul)
    .toString('utf8')
    .trimEnd();
  return s || undefined;
}

/** A 16-byte UUID stored in byte order (ext, xfs, btrfs, swap): "0a1b2c3d-…", lower case. */
function uuidField(head: Buffer, offset: number): string | undefined {
  if (offset + 16 > head.length) return undefined;
  const h = head.toString('hex', offset, offset + 16);
  if (/^0+$/.test(h)) return undefined;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function fatSerial(serial: number): string {
  const hex = serial.toString(16).toUpperCase().padStart(8, '0');
  return `${hex.slice(0, 4)}-${hex.slice(4)}`;
}

const FAT_NO_LABEL = 'NO NAME';

/**
 * FAT: blkid takes the volume-label entry of the root directory (what Windows changes) and falls
 * back to the boot sector's copy. FAT12/16 keep the root directory after the FATs; FAT32 in the
 * cluster chain starting at the root cluster (only its first cluster is searched).
 */
async function fatIdentity(head: Buffer, source: BlockSource): Promise<FilesystemIdentity> {
  const bps = head.readUInt16LE(11);
  const spc = head[13]!;
  const reserved = head.readUInt16LE(14);
  const fats = head[16]!;
  const rootEntries = head.readUInt16LE(17);
  const fatSize16 = head.readUInt16LE(22);
  const isFat32 = fatSize16 === 0;
  const bpbAt = isFat32 ? 64 : 36; // drive number; serial at +3, label at +7
  const out: FilesystemIdentity = {};
  if (head[bpbAt + 2] === 0x29) {
    out.uuid = fatSerial(head.readUInt32LE(bpbAt + 3));
    const bpbLabel = latin1Field(head, bpbAt + 7, 11);
    if (bpbLabel && bpbLabel !== FAT_NO_LABEL) out.label = bpbLabel;
  }
  let rootAt: number;
  let rootBytes: number;
  if (isFat32) {
    const fatSize32 = head.readUInt32LE(36);
    const rootCluster = head.readUInt32LE(44);
    if (rootCluster < 2) return out;
    rootAt = (reserved + fats * fatSize32) * bps + (rootCluster - 2) * spc * bps;
    rootBytes = spc * bps;
  } else {
    rootAt = (reserved + fats * fatSize16) * bps;
    rootBytes = rootEntries * 32;
  }
  rootBytes = Math.min(rootBytes, 64 * 1024);
  if (rootBytes <= 0 || rootAt + rootBytes > source.size) return out;
  const dir = await source.read(rootAt, rootBytes);
  for (let e = 0; e + 32 <= dir.length; e += 32) {
    const first = dir[e]!;
    if (first === 0) break;
    const attr = dir[e + 11]!;
    if (first === 0xe5 || attr === 0x0f || (attr & 0x18) !== 0x08) continue;
    const label = latin1Field(dir, e, 11);
    if (label && label !== FAT_NO_LABEL) out.label = label;
    else delete out.label;
    break;
  }
  return out;
}

/** NTFS: serial at byte 72 (blkid prints it as 16 hex digits); label from $Volume's $VOLUME_NAME. */
async function ntfsIdentity(head: Buffer, source: BlockSource): Promise<FilesystemIdentity> {
  const out: FilesystemIdentity = { uuid: head.readBigUInt64LE(72).toString(16).toUpperCase().padStart(16, '0') };
  const bps = head.readUInt16LE(11);
  const spcRaw = head[13]!;
  const sectorsPerCluster = spcRaw > 128 ? 2 ** (256 - spcRaw) : spcRaw;
  const cluster = bps * sectorsPerCluster;
  const recRaw = head.readInt8(64);
  const recordSize = recRaw > 0 ? recRaw * cluster : 2 ** -recRaw;
  const mftLcn = head.readBigUInt64LE(48);
  if (![512, 1024, 2048, 4096].includes(bps) || cluster === 0 || cluster > 2 * 1024 * 1024 || recordSize < 512 || recordSize > 65536)
    return out;
  const at = Number(mftLcn) * cluster + 3 * recordSize;
  if (!Number.isSafeInteger(at) || at + recordSize > source.size) return out;
  const rec = await source.read(at, recordSize);
  if (rec.toString('latin1', 0, 4) !== 'FILE' || !applyFixups(rec)) return out;
  let off = rec.readUInt16LE(20);
  for (let n = 0; n < 64 && off + 24 <= rec.length; n++) {
    const type = rec.readUInt32LE(off);
    const len = rec.readUInt32LE(off + 4);
    if (type === 0xffffffff || len < 24 || off + len > rec.length) break;
    if (type === 0x60 && rec[off + 8] === 0) {
      const vlen = rec.readUInt32LE(off + 16);
      const voff = rec.readUInt16LE(off + 20);
      if (voff + vlen <= len) {
        const label = rec.toString('utf16le', off + voff, off + voff + (vlen & ~1));
        if (label) out.label = label;
      }
      break;
    }
    off += len;
  }
  return out;
}

/** Update-sequence fixups (512-byte strides); false when the record is torn. */
function applyFixups(rec: Buffer): boolean {
  const usaOff = rec.readUInt16LE(4);
  const usaCount = rec.readUInt16LE(6);
  if (usaCount < 1 || usaOff + usaCount * 2 > rec.length || (usaCount - 1) * 512 > rec.length) return false;
  const usn = rec.readUInt16LE(usaOff);
  for (let i = 1; i < usaCount; i++) {
    const end = i * 512 - 2;
    if (rec.readUInt16LE(end) !== usn) return false;
    rec.writeUInt16LE(rec.readUInt16LE(usaOff + i * 2), end);
  }
  return true;
}

/** ISO 9660 primary volume descriptor: volume id (32 chars) and the creation time blkid uses as UUID. */
function isoIdentity(head: Buffer): FilesystemIdentity {
  const pvd = 32768;
  const out: FilesystemIdentity = {};
  const label = latin1Field(head, pvd + 40, 32);
  if (label) out.label = label;
  if (pvd + 830 <= head.length) {
    const d = head.toString('latin1', pvd + 813, pvd + 829);
    if (/^\d{16}$/.test(d) && d !== '0000000000000000') {
      // The volume's modification time digits (YYYYMMDDHHMMSScc), grouped as blkid shows them.
      out.uuid = [d.slice(0, 4), ...(d.slice(4).match(/../g) ?? [])].join('-');
    }
  }
  return out;
}

function fields(labelAt: number, labelSize: number, uuidAt: number): Reader {
  return (head) => {
    const out: FilesystemIdentity = {};
    const label = latin1Field(head, labelAt, labelSize);
    const uuid = uuidField(head, uuidAt);
    if (label) out.label = label;
    if (uuid) out.uuid = uuid;
    return out;
  };
}

const readers: Readonly<Record<string, Reader>> = {
  ext2: fields(1024 + 120, 16, 1024 + 104),
  ext3: fields(1024 + 120, 16, 1024 + 104),
  ext4: fields(1024 + 120, 16, 1024 + 104),
  xfs: fields(108, 12, 32),
  btrfs: fields(65536 + 0x12b, 256, 65536 + 0x20),
  swap: fields(1024 + 28, 16, 1024 + 12),
  vfat: fatIdentity,
  ntfs: ntfsIdentity,
  iso9660: isoIdentity,
};

/** Label and UUID of a filesystem of `type` whose head (first PROBE_BYTES) is `head`; {} when unreadable. */
export async function readFilesystemIdentity(type: string, head: Buffer, source: BlockSource): Promise<FilesystemIdentity> {
  const reader = readers[type];
  if (!reader) return {};
  try {
    return await reader(head, source);
  } catch (e) {
    // Fields pointing outside the buffer or the volume in a damaged superblock: the label is
    // optional, so the listing goes on without it. Real I/O errors still propagate.
    if (e instanceof RangeError || isDiskarcError(e, 'ERANGE')) return {};
    throw e;
  }
}
