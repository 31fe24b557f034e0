// `diskarc verify`: checks a stream against an input, or against its own hashes and digest.
import type { Command } from 'commander';
import { Archive } from '../../archive/archive.js';
import { verifyAgainstInput, verifyIntegrity } from '../../archive/verify.js';
import { archiveOption, cacheOption, commonOptions, SEQUENTIAL_CACHE_MIB } from '../options.js';
import { Output, formatBytes } from '../output.js';
import { progressBar } from '../progress.js';
import { withInterrupt } from '../interrupt.js';

export function register(program: Command): void {
  commonOptions(
    cacheOption(
      archiveOption(program.command('verify').description('check a stream against a file/device, or against its own hashes')),
      `${SEQUENTIAL_CACHE_MIB}`,
    )
      .requiredOption('-s, --stream <stream>', 'stream id, unique id prefix, or name')
      .argument('[input]', 'file or device to compare with; without it, the stream is checked against its own chunk hashes and digest'),
  ).action(
    async (
      input: string | undefined,
      o: { archive: string; stream: string; dataCacheSizeMib?: number; json?: boolean; verbose?: boolean },
    ) => {
      // A sequential pass reuses nothing: a small cache keeps memory (and GC work) down.
      const archive = await Archive.open(o.archive, { cacheBytes: (o.dataCacheSizeMib ?? SEQUENTIAL_CACHE_MIB) * 1048576 });
      const info = await archive.resolveStream(o.stream).catch(async (e) => {
        await archive.close();
        throw e;
      });
      const bar = o.json ? undefined : progressBar(info.size, 'verifying');
      try {
        const r = await withInterrupt((signal) => {
          const opts = { signal, onProgress: (d: number) => bar?.update(d) };
          return input ? verifyAgainstInput(archive, info.id, input, opts) : verifyIntegrity(archive, info.id, opts);
        });
        bar?.stop();
        new Output(o).result({ ok: true, ...r }, () =>
          input
            ? `stream ${r.stream} (${r.name}) matches ${input} (${formatBytes(r.size)}, ${r.seconds.toFixed(2)} s)`
            : `stream ${r.stream} (${r.name}) is intact: ${r.chunksChecked} chunks match their hashes, digest ${r.digest} ` +
              `(${r.seconds.toFixed(2)} s)`,
        );
      } finally {
        bar?.stop();
        await archive.close();
      }
    },
  );
}
