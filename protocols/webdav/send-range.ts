// Writes byte ranges of a BlockSource to an HTTP response straight from the source: each range is
// read at its own offset in bounded pieces (cost O(bytes sent)), at most two pieces per response
// are held at once (one being written, one being read), and the next read waits for the socket
// to drain, so a slow client holds back reading instead of filling memory.
import type { ServerResponse } from 'node:http';
import { borrowParts } from '../../src/block/parts.js';
import type { BlockSource } from '../../src/block/source.js';

/** Bytes read from the source per step. */
export const PIECE_BYTES = 1024 * 1024;

export interface SendProgress {
  /** Called with the bytes of each piece as the socket accepts them. */
  sent(bytes: number): void;
}

/** Resolves when the response can take more (or has gone away). */
function drained(res: ServerResponse): Promise<void> {
  if (!res.writableNeedDrain || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Sends [start, end] (inclusive) of `source`. Resolves when every byte is handed to the socket,
 * or early (false) when the client went away; rejects on a read error (the caller destroys the
 * response: the status line is long gone).
 */
export async function sendRange(res: ServerResponse, source: BlockSource, start: number, end: number, progress?: SendProgress): Promise<boolean> {
  let offset = start;
  const stop = end + 1;
  let next = offset < stop ? borrowParts(source, offset, Math.min(PIECE_BYTES, stop - offset)) : undefined;
  try {
    while (next) {
      const piece = await next;
      const length = piece.parts.reduce((n, p) => n + p.length, 0);
      offset += length;
      if (res.destroyed) {
        piece.release();
        next = undefined;
        return false;
      }
      // Lent buffers stay valid until the socket has taken them: release on the last write's callback.
      for (let i = 0; i < piece.parts.length; i++) {
        const last = i === piece.parts.length - 1;
        res.write(piece.parts[i]!, last ? () => { piece.release(); progress?.sent(length); } : undefined);
      }
      if (piece.parts.length === 0) piece.release();
      next = offset < stop ? borrowParts(source, offset, Math.min(PIECE_BYTES, stop - offset)) : undefined;
      await drained(res);
    }
    return !res.destroyed;
  } finally {
    // A read started ahead and never consumed (client gone): let it finish, then give it back.
    if (next) next.then((p) => p.release(), () => {});
  }
}
