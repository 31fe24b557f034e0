// `diskarc pack`: archives a file, block device or pipe (`-` for stdin) as a new stream.
import type { Command } from 'commander';
import { Archive } from '../../archive/archive.js';
import { pack, type PackResult } from '../../archive/pack.js';
import { archiveOption, commonOptions } from '../options.js';
import { Output, formatBytes } from '../output.js';
import { progressBar } from '../progress.js';
import { withInterrupt } from '../interrupt.js';

export function describePack(r: PackResult): string {
  const pct = (n: number) => (r.size > 0 ? ` (${((n / r.size) * 100).toFixed(1)}%)` : '');
  return [
    `stream id:        ${r.id}`,
    `name:             ${r.name}`,
    `file size:        ${formatBytes(r.size)}`,
    `mapped size:      ${formatBytes(r.mappedSize)}${pct(r.mappedSize)}`,
    `fills:            ${formatBytes(r.fillBytes)}${pct(r.fillBytes)}`,
    `duplicate data:   ${formatBytes(r.duplicateBytes)}${pct(r.duplicateBytes)}`,
    `data written:     ${formatBytes(r.dataWritten)}`,
    `hashes written:   ${formatBytes(r.hashesWritten)}`,
    `stream map:       ${formatBytes(r.mapWritten)} (${r.extentCount} extents)`,
    `compression:      ${r.compressionRatio.toFixed(2)}x`,
    `speed:            ${r.mibPerSecond.toFixed(1)} MiB/s (${r.packSeconds.toFixed(2)} s)`,
    r.verified
      ? `verify:           ${r.verifySeconds.toFixed(2)} s (${r.verifyMiBPerSecond.toFixed(1)} ` +
        `MiB/s${r.input === 'pipe' ? ', digest of the stream read back' : ', compared with the input'})`
      : 'verify:           skipped (--no-verify)',
    `digest:           ${r.digest}`,
  ].join('\n');
}

export function register(program: Command): void {
  commonOptions(
    archiveOption(program.command('pack').description('archive a file, block device or pipe as a new stream'))
      .argument('<input>', 'file, disk image, block device, named pipe, or - for standard input')
      .option('--name <name>', 'stream name (default: the input file name; required for -)')
      .option('--no-verify', 'skip reading the stream back and comparing it with the input'),
  ).action(async (input: string, o: { archive: string; name?: string; verify: boolean; json?: boolean; verbose?: boolean }) => {
    const out = new Output(o);
    const archive = await Archive.open(o.archive);
    let bar: ReturnType<typeof progressBar> | undefined;
    let phase = '';
    try {
      const result = await withInterrupt((signal) =>
        pack(archive, input, {
          name: o.name,
          verify: o.verify,
          signal,
          onProgress: (p) => {
            if (o.json) return;
            if (p.phase !== phase) {
              bar?.stop();
              phase = p.phase;
              bar = progressBar(p.size, p.phase === 'pack' ? 'packing  ' : 'verifying');
            }
            bar!.update(p.done, { extra: p.phase === 'pack' ? `| read ${formatBytes(p.read)} → stored ${formatBytes(p.stored)}` : '' });
          },
        }),
      );
      bar?.stop();
      out.result(result, () => describePack(result));
    } finally {
      bar?.stop();
      await archive.close();
    }
  });
}
