// --exit-with-parent (as in qemu-nbd and nbdkit): a server started by another program stops when
// that program dies, instead of living on re-parented to init. Linux has no portable event for a
// parent's death that Node exposes, so the parent pid is polled — cheap, and timely enough for a
// process that only needs to release its port, socket or mount.

const POLL_MS = 500;

/**
 * Calls `onParentExit` once when this process's parent exits (its parent pid changes). The watch
 * does not keep the event loop alive. Returns a function that stops watching.
 * `parent`: the parent pid as seen at startup, when the watch begins later (a parent that died
 * in between is then noticed at the first poll).
 */
export function watchParentExit(onParentExit: () => void, pollMs = POLL_MS, parent = process.ppid): () => void {
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onParentExit();
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
