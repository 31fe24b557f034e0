// `diskarc list`: the archive's streams, oldest first (like blk-archive's list).
import type { Command } from 'commander';
import { Archive } from '../../archive/archive.js';
import { archiveOption, commonOptions } from '../options.js';
import { Output, formatBytes } from '../output.js';
import { ExitCode } from '../../errors.js';

export function register(program: Command): void {
  commonOptions(archiveOption(program.command('list').description('list the streams in an archive'))).action(
    async (o: { archive: string; json?: boolean; verbose?: boolean }) => {
      const archive = await Archive.open(o.archive);
      try {
        const streams = await archive.listStreams();
        const damaged = archive.damagedStreams.map((e) => ({ stream: e.details.stream, message: e.message }));
        new Output(o).result({ archive: o.archive, streams, damaged }, () =>
          streams.length === 0
            ? 'no streams'
            : streams.map((s) => `${s.id}  ${formatBytes(s.size).padStart(10)}  ${s.packTime}  ${s.name}`).join('\n'),
        );
        // The good streams are listed; damaged ones are named and the exit code says so.
        for (const d of archive.damagedStreams) process.stderr.write(`diskarc: ${d.message}\n`);
        if (damaged.length > 0) process.exitCode = ExitCode.CORRUPT;
      } finally {
        await archive.close();
      }
    },
  );
}
