// `diskarc create`: makes a new, empty archive directory.
import { type Command, InvalidArgumentError } from 'commander';
import { Archive } from '../../archive/archive.js';
import { DEFAULTS, validateCreateSettings, type CompressionConfig } from '../../archive/config.js';
import { commonOptions, parseSize, parsePositiveInt } from '../options.js';
import { Output, formatBytes } from '../output.js';

function parseCompression(v: string): CompressionConfig {
  const m = /^(zstd)(?::(\d+))?$|^(none)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected zstd, zstd:LEVEL (1-19) or none');
  return m[3] ? { algorithm: 'none', level: 0 } : { algorithm: 'zstd', level: m[2] ? Number(m[2]) : 3 };
}

export function register(program: Command): void {
  commonOptions(
    program
      .command('create')
      .description('create a new, empty archive directory')
      .requiredOption('-a, --archive <dir>', 'directory to create (must not exist, or be empty)')
      .option(
        '--block-size <bytes>',
        `average chunk size in bytes, a power of two from 1KiB to 1MiB (default ${DEFAULTS.blockSize})`,
        parseSize,
      )
      .option(
        '--slab-size <bytes>',
        'uncompressed slab size in bytes, 16 blocks to 64MiB (default 256KiB: what a read that misses the cache decompresses)',
        parseSize,
      )
      .option(
        '--slab-file-limit <bytes>',
        'size in bytes past which a new slab file is started, at least the slab size (default 4GiB)',
        parseSize,
      )
      .option('--compression <algo>', 'zstd[:LEVEL] with LEVEL 1-19, or none (default zstd:3)', parseCompression)
      .option(
        '--data-cache-size-mib <mib>',
        `default slab cache budget for readers, in MiB (default ${DEFAULTS.dataCacheMiB})`,
        parsePositiveInt,
      ),
  ).action(
    async (o: {
      archive: string;
      blockSize?: number;
      slabSize?: number;
      slabFileLimit?: number;
      compression?: CompressionConfig;
      dataCacheSizeMib?: number;
      json?: boolean;
      verbose?: boolean;
    }) => {
      // Checked here, before the directory is looked at: a bad value is a usage error (exit 2).
      const settings = validateCreateSettings({
        blockSize: o.blockSize,
        slabSize: o.slabSize,
        slabFileLimit: o.slabFileLimit,
        compression: o.compression,
        dataCacheMiB: o.dataCacheSizeMib,
      });
      const config = await Archive.create(o.archive, settings);
      new Output(o).result(
        { archive: o.archive, ...config },
        () =>
          `created archive ${o.archive} (id ${config.archiveId}, block size ${formatBytes(config.blockSize)}, slab size ` +
          `${formatBytes(config.slabSize)}, ` +
          `${config.compression.algorithm === 'zstd' ? `zstd level ${config.compression.level}` : 'no compression'})`,
      );
    },
  );
}
