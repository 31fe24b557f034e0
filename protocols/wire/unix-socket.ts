// Unix-socket listener chores shared by the TCP/Unix protocols (NBD, IMDPROXY): replacing the
// socket file a killed server left, and a larger send buffer for bulk replies on Unix sockets.
import { lstat, unlink } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { native } from '../../native/index.js';
import { DiskarcError } from '../../src/errors.js';

/** A socket file nobody listens on (left by a killed server) is removed; a live one is an error. */
export async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new DiskarcError('ESERVER', `${path} exists and is not a socket; refusing to replace it`, { path });
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new DiskarcError('ESERVER', `another server is listening on ${path}`, { path });
  await unlink(path);
}

/**
 * Reply data leaves in bulk: on a Unix socket, a send buffer larger than the default 208 KiB lets
 * one writev hand several 256 KiB read replies to the kernel instead of waiting for the client to
 * drain the socket between pieces (faster warm sequential reads: docs/bench.md). TCP sockets are
 * left alone: their buffers autotune, and setting SO_SNDBUF would switch that off. Kernel memory,
 * bounded per connection; the kernel caps it at net.core.wmem_max.
 */
const REPLY_SEND_BUFFER = 4 * 1024 * 1024;

export function raiseSendBuffer(socket: Socket, log: Logger): void {
  // The fd of an accepted socket; Node exposes it only on the internal handle.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return;
  try {
    native.setSendBuffer(fd, REPLY_SEND_BUFFER);
  } catch (e) {
    log.debug({ err: e }, 'could not raise the socket send buffer');
  }
}
