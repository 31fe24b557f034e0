// Turns SIGINT/SIGTERM into an AbortSignal for the duration of one long command, so the command
// stops at its next checkpoint, cleans up, and exits with the EINTR code instead of dying mid-write.
export async function withInterrupt<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(abort.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
