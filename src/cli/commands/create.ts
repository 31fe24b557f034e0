// `diskarc create`: makes a new, empty archive directory.
import { Command, InvalidArgumentError } from 'commander';
import { Archive } from '../../archive/archive.js';
import type { CompressionConfig } from '../../archive/config.js';
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
      .option('--block-size <bytes>', 'average chunk size, a power of two (default 4096)', parseSize)
      .option('--slab-size <bytes>', 'uncompressed slab size (default 256KiB: what a read that misses the cache decompresses)', parseSize)
      .option('--slab-file-limit <bytes>', 'start a new slab file past this size (default 4GiB)', parseSize)
      .option('--compression <algo>', 'zstd[:LEVEL] or none (default zstd:3)', parseCompression)
      .option('--data-cache-size-mib <mib>', 'default slab cache budget for readers (default 256)', parsePositiveInt),
  ).action(async (o: { archive: string; blockSize?: number; slabSize?: number; slabFileLimit?: number; compression?: CompressionConfig; dataCacheSizeMib?: number; json?: boolean; verbose?: boolean }) => {
    const config = await Archive.create(o.archive, { blockSize: o.blockSize, slabSize: o.slabSize, slabFileLimit: o.slabFileLimit, compression: o.compression, dataCacheMiB: o.dataCacheSizeMib });
    new Output(o).result({ archive: o.archive, ...config }, () =>
      `created archive ${o.archive} (id ${config.archiveId}, block size ${formatBytes(config.blockSize)}, slab size ${formatBytes(config.slabSize)}, ` +
      `${config.compression.algorithm === 'zstd' ? `zstd level ${config.compression.level}` : 'no compression'})`);
  });
}
