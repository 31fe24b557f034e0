// `diskarc cat`: writes one file (or `file:stream`) from an NTFS volume to stdout, streaming in
// bounded chunks with backpressure; a closed pipe (`| head`) ends it quietly. A link is followed
// to its target within the volume, as cat(1) follows one.
import type { Command } from 'commander';
import { DiskarcError, isDiskarcError } from '../../errors.js';
import { ntfsSourceOptions, withNtfsVolume, type NtfsSourceOptions } from './ls.js';

const CHUNK = 1 << 20;

export function register(program: Command): void {
  ntfsSourceOptions(
    program
      .command('cat')
      .description(
        'write a file (or FILE:STREAM, an alternate data stream) from an NTFS volume to stdout; links are followed within the volume',
      )
      .argument('<path>', 'file inside the volume; PATH:NAME for an alternate data stream'),
  ).action(async (path: string, o: NtfsSourceOptions) => {
    await withNtfsVolume(o, async (volume) => {
      const src = await volume.openFile(path).catch((e: unknown) => {
        if (isDiskarcError(e, 'EISDIR')) {
          throw new DiskarcError('EISDIR', `${e.message}: list it with diskarc ls, copy it out with diskarc extract`, e.details, {
            cause: e,
          });
        }
        throw e;
      });
      try {
        await writeAll(async (write) => {
          for (let off = 0; off < src.size; off += CHUNK) {
            if (!(await write(await src.read(off, Math.min(CHUNK, src.size - off))))) return;
          }
        });
      } finally {
        await src.close();
      }
    });
  });
}

/** Runs `produce` with a writer to stdout that waits for drain; returns early (false) on EPIPE. */
async function writeAll(produce: (write: (b: Buffer) => Promise<boolean>) => Promise<void>): Promise<void> {
  const out = process.stdout;
  let closed: Error | undefined;
  const onError = (e: NodeJS.ErrnoException) => {
    closed = e;
  };
  out.on('error', onError);
  try {
    await produce(async (b) => {
      if (closed) return false;
      if (!out.write(b)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            out.off('drain', done);
            out.off('error', done);
            out.off('close', done);
            resolve();
          };
          out.once('drain', done);
          out.once('error', done);
          out.once('close', done);
        });
      }
      return !closed;
    });
    if (!closed) await new Promise<void>((resolve) => out.write('', () => resolve()));
  } finally {
    out.off('error', onError);
  }
  const err = closed as NodeJS.ErrnoException | undefined;
  if (err && err.code !== 'EPIPE') throw new DiskarcError('EDEST', `cannot write to stdout: ${err.message}`, {}, { cause: err });
}
