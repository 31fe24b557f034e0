// The FUSE control filesystem (fusectl) on /sys/fs/fuse/connections: where a connection's
// max_background is set. Distributions mount it at boot (systemd's sys-fs-fuse-connections.mount),
// a fresh VM or container often has not; root mounts it here so every mount can be tuned.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readMounts } from './mountpoint.js';

export const FUSECTL_DIR = '/sys/fs/fuse/connections';

const run = promisify(execFile);

export async function isFusectlMounted(): Promise<boolean> {
  return (await readMounts()).some((m) => m.mountPoint === FUSECTL_DIR && m.fsType === 'fusectl');
}

/** Concurrent mounts of one process share one attempt, so fusectl is never mounted twice. */
let ensuring: Promise<string | undefined> | undefined;

/**
 * Makes sure fusectl is mounted on FUSECTL_DIR, mounting it when this process is root. Resolves
 * to undefined when it is mounted, or to why it is not (the caller says what that costs).
 */
export function ensureFusectl(): Promise<string | undefined> {
  ensuring ??= mountFusectl().finally(() => (ensuring = undefined));
  return ensuring;
}

async function mountFusectl(): Promise<string | undefined> {
  if (await isFusectlMounted()) return undefined;
  if (process.getuid?.() !== 0) return `fusectl is not mounted on ${FUSECTL_DIR} and only root can mount it`;
  try {
    // The fuse module is loaded (a FUSE mount exists), so the directory exists.
    await run('mount', ['-t', 'fusectl', 'fusectl', FUSECTL_DIR], {
      env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/bin:/bin` },
    });
  } catch (e) {
    // Another process may have mounted it in the meantime: that is success too.
    if (await isFusectlMounted()) return undefined;
    const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
    return `mounting fusectl on ${FUSECTL_DIR} failed: ${stderr || (e as Error).message}`;
  }
  return undefined;
}
