// Writes byte ranges of a BlockSource to an HTTP response straight from the source: each range is
// read at its own offset in bounded pieces (cost O(bytes sent)), at most PIECES_AHEAD pieces per
// response are read ahead of the socket, and the next read waits for the socket to drain — so a
// slow client holds back reading instead of filling memory. Pieces come through readParts: for an
// archived stream, views of the shared slab cache (warm reads decompress nothing, and the stream
// reader's own readahead keeps the decoders busy on a sequential pass).
import type { ServerResponse } from 'node:http';
import { readParts } from '../../src/block/parts.js';
import type { BlockSource } from '../../src/block/source.js';

/** Bytes read from the source per step. */
export const PIECE_BYTES = 1024 * 1024;
/** Pieces read ahead of the socket per response: what one response may hold at once. */
export const PIECES_AHEAD = 2;

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
 * Sends [start, end] (inclusive) of `source`. Resolves true when every byte is handed to the
 * socket, false early when the client went away; rejects on a read error (the caller destroys
 * the response: the status line is long gone).
 */
export async function sendRange(res: ServerResponse, source: BlockSource, start: number, end: number, progress?: SendProgress): Promise<boolean> {
  const stop = end + 1;
  let next = start;
  const ahead: Array<Promise<Buffer[]>> = [];
  const topUp = (): void => {
    while (ahead.length < PIECES_AHEAD && next < stop) {
      const length = Math.min(PIECE_BYTES, stop - next);
      const p = readParts(source, next, length);
      p.catch(() => {}); // awaited in order below; an abandoned one must not be an unhandled rejection
      ahead.push(p);
      next += length;
    }
  };
  topUp();
  while (ahead.length > 0) {
    const parts = await ahead.shift()!;
    if (res.destroyed) return false;
    const length = parts.reduce((n, p) => n + p.length, 0);
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      res.write(parts[i]!, last ? () => progress?.sent(length) : undefined);
    }
    topUp();
    await drained(res);
  }
  return !res.destroyed;
}
