// The archive's configuration file (diskarc.json, format.md §1): written once by `create`,
// read by every command. Validation lives here so a hand-edited or damaged file is refused clearly.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskarcError } from '../errors.js';

export const CONFIG_FILE = 'diskarc.json';
export const FORMAT_NAME = 'diskarc-archive';
export const FORMAT_VERSION = 1;

export interface CompressionConfig {
  algorithm: 'zstd' | 'none';
  level: number;
}

export interface ArchiveConfig {
  format: typeof FORMAT_NAME;
  version: number;
  archiveId: string;
  createdAt: string;
  /** Average chunk size of the content-defined chunker; a power of two. */
  blockSize: number;
  /** Uncompressed size a data slab is filled to before it is compressed and written. */
  slabSize: number;
  /** A slab file rolls over to the next one once it is larger than this. */
  slabFileLimit: number;
  compression: CompressionConfig;
  /** Default byte budget of the decompressed-slab cache, in MiB. */
  dataCacheMiB: number;
}

export const DEFAULTS = {
  blockSize: 4096,
  slabSize: 256 * 1024,
  slabFileLimit: 4 * 1024 ** 3,
  compression: { algorithm: 'zstd', level: 3 } as CompressionConfig,
  dataCacheMiB: 256,
};

const isPow2 = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Checks a configuration's values; the message names the field a user must fix. */
export function validateConfig(c: ArchiveConfig, where: string): ArchiveConfig {
  const bad = (msg: string) => new DiskarcError('ENOARCHIVE', `${where}: ${msg}`);
  if (c.format !== FORMAT_NAME) throw bad(`not a diskarc archive (format is ${JSON.stringify(c.format)})`);
  if (c.version !== FORMAT_VERSION) throw bad(`archive format version ${c.version} is not supported (this diskarc reads version ${FORMAT_VERSION})`);
  if (!/^[0-9a-f]{32}$/.test(c.archiveId)) throw bad('archiveId must be 32 hex digits');
  if (!isPow2(c.blockSize) || c.blockSize < 1024 || c.blockSize > 1024 * 1024) throw bad('blockSize must be a power of two between 1 KiB and 1 MiB');
  if (!Number.isSafeInteger(c.slabSize) || c.slabSize < c.blockSize * 16 || c.slabSize > 64 * 1024 * 1024) throw bad('slabSize must be at least 16 blocks and at most 64 MiB');
  if (c.slabSize / (c.blockSize / 4) > 65535) throw bad('slabSize / (blockSize / 4) must stay below 65536 chunks per slab');
  if (!Number.isSafeInteger(c.slabFileLimit) || c.slabFileLimit < c.slabSize) throw bad('slabFileLimit must be at least slabSize');
  if (c.compression?.algorithm !== 'zstd' && c.compression?.algorithm !== 'none') throw bad('compression.algorithm must be "zstd" or "none"');
  if (c.compression.algorithm === 'zstd' && !(Number.isInteger(c.compression.level) && c.compression.level >= 1 && c.compression.level <= 19)) throw bad('compression.level must be 1..19');
  if (!Number.isSafeInteger(c.dataCacheMiB) || c.dataCacheMiB < 1) throw bad('dataCacheMiB must be a positive integer');
  return c;
}

export async function readConfig(dir: string): Promise<ArchiveConfig> {
  const path = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DiskarcError('ENOARCHIVE', `${dir} is not a diskarc archive (no ${CONFIG_FILE}); create one with: diskarc create -a ${dir}`, { archive: dir });
    }
    throw new DiskarcError('ENOARCHIVE', `cannot read ${path}: ${(e as Error).message}`, { archive: dir }, { cause: e });
  }
  let parsed: ArchiveConfig;
  try {
    parsed = JSON.parse(text) as ArchiveConfig;
  } catch (e) {
    throw new DiskarcError('ENOARCHIVE', `${path} is not valid JSON`, { archive: dir }, { cause: e });
  }
  return validateConfig(parsed, path);
}

/** Chunker bounds derived from the average (block) size, as blk-archive and FastCDC do. */
export function chunkBounds(blockSize: number): { min: number; avg: number; max: number } {
  return { min: blockSize / 4, avg: blockSize, max: blockSize * 8 };
}
