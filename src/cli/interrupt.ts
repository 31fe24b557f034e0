// SIGINT/SIGTERM handling for long CLI commands (pack, unpack, verify). While one runs inside
// `withInterrupt`, a signal aborts its AbortSignal so it stops at its next checkpoint, cleans up
// and exits with the EINTR code (130); a second signal exits at once.
import { ExitCode } from '../errors.js';

export async function withInterrupt<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(ExitCode.INTERRUPTED);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(abort.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
