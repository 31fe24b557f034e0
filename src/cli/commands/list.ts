// `diskarc list`: the archive's streams, oldest first (like blk-archive's list).
import type { Command } from 'commander';
import { Archive } from '../../archive/archive.js';
import { archiveOption, commonOptions } from '../options.js';
import { Output, formatBytes } from '../output.js';

export function register(program: Command): void {
  commonOptions(archiveOption(program.command('list').description('list the streams in an archive')))
    .action(async (o: { archive: string; json?: boolean; verbose?: boolean }) => {
      const archive = await Archive.open(o.archive);
      try {
        const streams = await archive.listStreams();
        new Output(o).result({ archive: o.archive, streams }, () => streams.length === 0 ? 'no streams'
          : streams.map((s) => `${s.id}  ${formatBytes(s.size).padStart(10)}  ${s.packTime}  ${s.name}`).join('\n'));
      } finally {
        await archive.close();
      }
    });
}
