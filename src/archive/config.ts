// The archive's configuration file (diskarc.json, format.md §1): written once by `create`,
// read by every command. Validation lives here so a hand-edited or damaged file is refused clearly.
import { DiskarcError } from '../errors.js';
import type { Storage } from '../storage/backend.js';
import { CONFIG_KEY } from '../storage/keys.js';

export const CONFIG_FILE = CONFIG_KEY;
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

/** The settings a user chooses at `create`, by config field, with the option that sets each. */
export type ArchiveSettings = Pick<ArchiveConfig, 'blockSize' | 'slabSize' | 'slabFileLimit' | 'compression' | 'dataCacheMiB'>;

const OPTION_OF: Record<keyof ArchiveSettings, string> = {
  blockSize: '--block-size',
  slabSize: '--slab-size',
  slabFileLimit: '--slab-file-limit',
  compression: '--compression',
  dataCacheMiB: '--data-cache-size-mib',
};

/**
 * The first rule `s` breaks, as [field, what the value must be], or undefined. One rule table
 * for both a stored diskarc.json and `create`'s options, so they can never disagree.
 */
function brokenSetting(s: ArchiveSettings): [keyof ArchiveSettings, string] | undefined {
  if (!isPow2(s.blockSize) || s.blockSize < 1024 || s.blockSize > 1024 * 1024) return ['blockSize', 'must be a power of two between 1 KiB and 1 MiB'];
  if (!Number.isSafeInteger(s.slabSize) || s.slabSize < s.blockSize * 16 || s.slabSize > 64 * 1024 * 1024) return ['slabSize', `must be at least 16 blocks (${s.blockSize * 16} bytes at block size ${s.blockSize}) and at most 64 MiB`];
  if (s.slabSize / (s.blockSize / 4) > 65535) return ['slabSize', `must stay below 65536 minimum-size chunks per slab (slab size / (block size / 4)); at most ${65535 * (s.blockSize / 4)} bytes at block size ${s.blockSize}`];
  if (!Number.isSafeInteger(s.slabFileLimit) || s.slabFileLimit < s.slabSize) return ['slabFileLimit', `must be at least the slab size (${s.slabSize} bytes)`];
  if (s.compression?.algorithm !== 'zstd' && s.compression?.algorithm !== 'none') return ['compression', 'algorithm must be "zstd" or "none"'];
  if (s.compression.algorithm === 'zstd' && !(Number.isInteger(s.compression.level) && s.compression.level >= 1 && s.compression.level <= 19)) return ['compression', 'level must be 1..19'];
  if (!Number.isSafeInteger(s.dataCacheMiB) || s.dataCacheMiB < 1) return ['dataCacheMiB', 'must be a positive integer'];
  return undefined;
}

/** Checks a configuration's values; the message names the field a user must fix. */
export function validateConfig(c: ArchiveConfig, where: string): ArchiveConfig {
  const bad = (msg: string) => new DiskarcError('ENOARCHIVE', `${where}: ${msg}`);
  if (c.format !== FORMAT_NAME) throw bad(`not a diskarc archive (format is ${JSON.stringify(c.format)})`);
  if (c.version !== FORMAT_VERSION) throw bad(`archive format version ${c.version} is not supported (this diskarc reads version ${FORMAT_VERSION})`);
  if (!/^[0-9a-f]{32}$/.test(c.archiveId)) throw bad('archiveId must be 32 hex digits');
  const broken = brokenSetting(c);
  if (broken) throw bad(`${broken[0]} ${broken[1]}`);
  return c;
}

/**
 * Checks the settings given to `create` (missing ones take DEFAULTS) before anything is
 * written: a bad value is the user's argument, so EUSAGE naming the option, not ENOARCHIVE.
 */
export function validateCreateSettings(given: Partial<ArchiveSettings>): ArchiveSettings {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<ArchiveSettings>;
  const s: ArchiveSettings = { ...DEFAULTS, ...defined };
  const broken = brokenSetting(s);
  if (broken) {
    const [field, rule] = broken;
    const value = field === 'compression' ? `${s.compression.algorithm}:${s.compression.level}` : String(s[field]);
    // A default can break a rule only through another option (--block-size 1MiB and the default slab size): say so.
    const shown = field in defined ? value : `(default ${value})`;
    throw new DiskarcError('EUSAGE', `${OPTION_OF[field]} ${shown}: ${rule}`, { option: OPTION_OF[field], value });
  }
  return s;
}

/** The archive's configuration; `dir` names the archive in messages. */
export async function readConfig(storage: Storage, dir: string): Promise<ArchiveConfig> {
  const path = storage.where(CONFIG_KEY);
  let text: string;
  try {
    text = (await storage.readAll(CONFIG_KEY)).toString('utf8');
  } catch (e) {
    if (e instanceof DiskarcError && e.code === 'ENOKEY') {
      throw new DiskarcError('ENOARCHIVE', `${dir} is not a diskarc archive (no ${CONFIG_FILE}); create one with: diskarc create -a ${dir}`, { archive: dir });
    }
    throw e;
  }
  let parsed: ArchiveConfig;
  try {
    parsed = JSON.parse(text) as ArchiveConfig;
  } catch (e) {
    throw new DiskarcError('ENOARCHIVE', `${path} is not valid JSON`, { archive: dir }, { cause: e });
  }
  return validateConfig(parsed, path);
}

/** Stores a new archive's configuration: write-once, so an existing archive is never overwritten. */
export async function writeConfig(storage: Storage, config: ArchiveConfig): Promise<void> {
  await storage.put(CONFIG_KEY, Buffer.from(JSON.stringify(config, null, 2) + '\n'));
}

/** Chunker bounds derived from the average (block) size, as blk-archive and FastCDC do. */
export function chunkBounds(blockSize: number): { min: number; avg: number; max: number } {
  return { min: blockSize / 4, avg: blockSize, max: blockSize * 8 };
}
