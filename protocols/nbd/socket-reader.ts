// Exact-length reads from a socket for a message-by-message protocol parser, with TCP backpressure:
// once `highWater` bytes sit unconsumed the socket is paused, so a client that pipelines faster
// than the server admits requests fills its own send buffer instead of the server's memory.
import type { Socket } from 'node:net';

/** The peer closed (or the socket failed) before a whole message arrived. */
export class TruncatedError extends Error {
  constructor(
    readonly wanted: number,
    readonly got: number,
  ) {
    super(`connection ended ${got} bytes into a ${wanted}-byte message`);
    this.name = 'TruncatedError';
  }
}

export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly highWater = 256 * 1024,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered >= this.highWater) socket.pause();
      this.notify();
    });
    const end = (): void => {
      this.ended = true;
      this.notify();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  /** Stops every pending and future read (they reject with TruncatedError); used at shutdown. */
  abort(): void {
    this.ended = true;
    this.chunks = [];
    this.buffered = 0;
    this.notify();
  }

  /** Resolves with exactly `n` bytes, or rejects with TruncatedError if the stream ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.ended) throw new TruncatedError(n, this.buffered);
      await this.more();
    }
    return this.take(n);
  }

  /** Discards exactly `n` bytes (a payload we will not use) without buffering them all. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0) {
        if (this.ended) throw new TruncatedError(n, n - left);
        await this.more();
        continue;
      }
      const k = Math.min(left, this.buffered);
      this.take(k);
      left -= k;
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let out: Buffer;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    if (this.buffered < this.highWater && this.socket.isPaused() && !this.ended) this.socket.resume();
    return out;
  }

  private more(): Promise<void> {
    // A message longer than highWater must still arrive whole.
    if (this.socket.isPaused() && !this.ended) this.socket.resume();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
