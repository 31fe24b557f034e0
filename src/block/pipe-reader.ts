// A sequential input: a FIFO, a pipe or a socket on stdin, read as its bytes arrive, once, on the
// event loop (never on a pool thread that a pipe without a writer would hold forever), so signals
// and aborts are seen at once. Used by pack for `-` and named pipes; it is not a BlockSource.
import { constants, open as openFd } from 'node:fs';
import { Socket } from 'node:net';
import { addAbortSignal } from 'node:stream';
import { classifySystemError, DiskarcError } from '../errors.js';

export class PipeReader {
  private constructor(
    private readonly socket: Socket,
    readonly path: string,
  ) {}

  /**
   * Opens a named pipe without waiting for a writer (O_NONBLOCK): reading then waits for one,
   * interruptibly, and ends when the last writer closes.
   */
  static async open(path: string): Promise<PipeReader> {
    const fd = await new Promise<number>((resolve, reject) => {
      openFd(path, constants.O_RDONLY | constants.O_NONBLOCK, (e, fd) => (e ? reject(e) : resolve(fd)));
    });
    return new PipeReader(new Socket({ fd, readable: true, writable: false }), path);
  }

  /** Standard input, when it is a pipe or a socket. */
  static stdin(): PipeReader {
    return new PipeReader(new Socket({ fd: 0, readable: true, writable: false }), 'stdin');
  }

  /**
   * The bytes, in pieces as they arrive, until end of input. An abort of `signal` ends the wait
   * with EINTR; a read failure is the system error's class (EIO…), naming the input.
   */
  async *chunks(signal?: AbortSignal): AsyncGenerator<Buffer> {
    if (signal) addAbortSignal(signal, this.socket);
    try {
      for await (const piece of this.socket) yield piece as Buffer;
    } catch (e) {
      if (signal?.aborted) throw new DiskarcError('EINTR', 'interrupted');
      throw classifySystemError(e, `reading the input ${this.path}`);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
