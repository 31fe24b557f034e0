// The NTFS boot sector (libfsntfs "Volume header"): volume geometry and where $MFT starts.
// Validates every field the reader depends on, so later code can trust the geometry.
import { corrupt, decode, ntfsLayout, requireBytes } from './layout.js';
import { DiskarcError } from '../../src/errors.js';

/** Boot sector fields (all little-endian; reference/ntfs.md "Boot sector"). */
export const BootSectorLayout = ntfsLayout('boot sector', {
  bytesPerSector: { offset: 11, type: 'u16le' },
  sectorsPerCluster: { offset: 13, type: 'u8' },
  totalSectors: { offset: 40, type: 'u64le' },
  mftCluster: { offset: 48, type: 'u64le' },
  mftMirrCluster: { offset: 56, type: 'u64le' },
  mftRecordSizeCode: { offset: 64, type: 'i8' },
  indexRecordSizeCode: { offset: 68, type: 'i8' },
  serialLow: { offset: 72, type: 'u32le' },
  serialHigh: { offset: 76, type: 'u32le' },
  endMarker: { offset: 510, type: 'u16le' },
});

export const OEM_ID = 'NTFS    ';
export const MAX_CLUSTER_SIZE = 2 * 1024 * 1024;

export interface Geometry {
  bytesPerSector: number;
  clusterSize: number;
  totalSectors: number;
  /** Clusters in the volume (the $Bitmap covers exactly these). */
  totalClusters: number;
  volumeSize: number;
  mftCluster: number;
  mftMirrCluster: number;
  mftRecordSize: number;
  indexRecordSize: number;
  serial: string;
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** True when the sector looks like an NTFS boot sector (OEM id), without validating the rest. */
export function looksLikeNtfs(sector: Buffer): boolean {
  return sector.length >= 512 && sector.toString('latin1', 3, 11) === OEM_ID;
}

/** Parses and validates the boot sector (first 512 bytes of the volume). */
export function parseBootSector(buf: Buffer): Geometry {
  const what = 'NTFS boot sector';
  requireBytes(buf, 0, 512, what);
  if (!looksLikeNtfs(buf))
    throw new DiskarcError('EFS', 'not an NTFS volume (no "NTFS    " OEM id in the boot sector)', { structure: what });
  const f = decode(buf, BootSectorLayout, 0, what);
  if (f.endMarker !== 0xaa55) throw corrupt(what, `end-of-sector marker is 0x${f.endMarker.toString(16)}, not 0xAA55`);
  if (!isPow2(f.bytesPerSector) || f.bytesPerSector < 256 || f.bytesPerSector > 65536)
    throw corrupt(what, `bytes per sector ${f.bytesPerSector} is not a power of two in 256..65536`);
  const spc = f.sectorsPerCluster >= 244 ? 2 ** (256 - f.sectorsPerCluster) : f.sectorsPerCluster;
  if (!isPow2(spc)) throw corrupt(what, `sectors per cluster code ${f.sectorsPerCluster} is invalid`);
  const clusterSize = spc * f.bytesPerSector;
  if (clusterSize > MAX_CLUSTER_SIZE) throw corrupt(what, `cluster size ${clusterSize} exceeds 2 MiB`);
  const recordSize = (code: number, name: string) => {
    const size = code > 0 ? code * clusterSize : code < 0 && code >= -31 ? 2 ** -code : 0;
    if (!isPow2(size) || size < 512 || size > 65536 * 4) throw corrupt(what, `${name} size code ${code} gives an invalid size`);
    return size;
  };
  const mftRecordSize = recordSize(f.mftRecordSizeCode, 'MFT record');
  const indexRecordSize = recordSize(f.indexRecordSizeCode, 'index record');
  const volumeSize = f.totalSectors * f.bytesPerSector;
  if (!Number.isSafeInteger(volumeSize) || f.totalSectors <= 0) throw corrupt(what, `total sectors ${f.totalSectors} is invalid`);
  const totalClusters = Math.floor(volumeSize / clusterSize);
  if (f.mftCluster <= 0 || f.mftCluster >= totalClusters)
    throw corrupt(what, `$MFT cluster ${f.mftCluster} lies outside the volume (${totalClusters} clusters)`);
  const serial = (f.serialHigh.toString(16).padStart(8, '0') + f.serialLow.toString(16).padStart(8, '0')).toUpperCase();
  return {
    bytesPerSector: f.bytesPerSector,
    clusterSize,
    totalSectors: f.totalSectors,
    totalClusters,
    volumeSize,
    mftCluster: f.mftCluster,
    mftMirrCluster: f.mftMirrCluster,
    mftRecordSize,
    indexRecordSize,
    serial,
  };
}
