// `diskarc unpack`: restores a stream to a file or block device.
import type { Command } from 'commander';
import { Archive } from '../../archive/archive.js';
import { unpack } from '../../archive/unpack.js';
import { archiveOption, cacheOption, commonOptions, SEQUENTIAL_CACHE_MIB } from '../options.js';
import { Output, formatBytes } from '../output.js';
import { progressBar } from '../progress.js';
import { withInterrupt } from '../interrupt.js';

export function register(program: Command): void {
  commonOptions(
    cacheOption(
      archiveOption(program.command('unpack').description('restore a stream to a file or block device')),
      `${SEQUENTIAL_CACHE_MIB}`,
    )
      .requiredOption('-s, --stream <stream>', 'stream id, unique id prefix, or name')
      .argument('<output>', 'destination: an existing file/device of exactly the stream size, or a new file with --create')
      .option('--create', 'create a new (sparse) file; refuses an existing one, and removes it again if the restore fails')
      .option('--minimal-writes', 'read the destination and write only the chunks that differ'),
  ).action(
    async (
      output: string,
      o: {
        archive: string;
        stream: string;
        create?: boolean;
        minimalWrites?: boolean;
        dataCacheSizeMib?: number;
        json?: boolean;
        verbose?: boolean;
      },
    ) => {
      // A sequential pass reuses nothing: a small cache keeps memory (and GC work) down.
      const archive = await Archive.open(o.archive, { cacheBytes: (o.dataCacheSizeMib ?? SEQUENTIAL_CACHE_MIB) * 1048576 });
      const bar = o.json ? undefined : progressBar((await archive.resolveStream(o.stream).catch(() => ({ size: 0 }))).size, 'unpacking');
      try {
        const r = await withInterrupt((signal) =>
          unpack(archive, o.stream, output, {
            create: o.create,
            minimalWrites: o.minimalWrites,
            signal,
            onProgress: (d) => bar?.update(d),
          }),
        );
        bar?.stop();
        new Output(o).result(r, () =>
          [
            `restored stream ${r.stream} (${r.name}) to ${r.destination}`,
            `size:            ${formatBytes(r.size)}`,
            `written:         ${formatBytes(r.bytesWritten)} in ${r.writes} writes`,
            `holes/discarded: ${formatBytes(r.holeBytes)}`,
            ...(o.minimalWrites ? [`already equal:   ${formatBytes(r.unchangedBytes)}`] : []),
            `speed:           ${r.mibPerSecond.toFixed(1)} MiB/s (${r.seconds.toFixed(2)} s)`,
          ].join('\n'),
        );
      } finally {
        bar?.stop();
        await archive.close();
      }
    },
  );
}
