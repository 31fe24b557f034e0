// `diskarc info`: one stream's metadata and pack statistics.
import type { Command } from 'commander';
import { Archive } from '../../archive/archive.js';
import { archiveOption, commonOptions } from '../options.js';
import { Output, formatBytes } from '../output.js';

export function register(program: Command): void {
  commonOptions(archiveOption(program.command('info').description("show a stream's metadata and statistics")))
    .requiredOption('-s, --stream <stream>', 'stream id, unique id prefix, or name')
    .action(async (o: { archive: string; stream: string; json?: boolean; verbose?: boolean }) => {
      const archive = await Archive.open(o.archive);
      try {
        const s = await archive.resolveStream(o.stream);
        new Output(o).result(s, () =>
          [
            `id:              ${s.id}`,
            `name:            ${s.name}`,
            `source:          ${s.sourcePath}`,
            `size:            ${formatBytes(s.size)} (${s.size} bytes)`,
            `mapped:          ${formatBytes(s.mappedSize)}`,
            `fills:           ${formatBytes(s.fillBytes)}`,
            `duplicate data:  ${formatBytes(s.duplicateBytes)}`,
            `data written:    ${formatBytes(s.dataWritten)}`,
            `hashes written:  ${formatBytes(s.hashesWritten)}`,
            `stream map:      ${formatBytes(s.mapWritten)} (${s.extentCount} extents)`,
            `packed:          ${s.packTime} in ${s.packSeconds} s by diskarc ${s.toolVersion}`,
            `digest:          ${s.digest}`,
          ].join('\n'),
        );
      } finally {
        await archive.close();
      }
    });
}
