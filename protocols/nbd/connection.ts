// One client connection: handshake (bounded in time), then transmission, then close. Whatever the
// client sends, the outcome is confined to this socket: violations close it, nothing throws out.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ByteBudget } from './byte-budget.js';
import type { NbdExportCatalog } from './exports.js';
import { negotiate, ProtocolViolation } from './handshake.js';
import type { NbdLimits } from './limits.js';
import { SocketReader, TruncatedError } from './socket-reader.js';
import { Transmission } from './transmission.js';

export interface NbdConnectionStats {
  /** Undefined while the client is still haggling. */
  export: string | undefined;
  requestsInFlight: number;
  queuedReplyBytes: number;
  /** The client's address ('unix' on a Unix socket) and the bytes sent to it so far (live panel). */
  peer: string;
  bytesSent: number;
}

export class NbdConnection {
  private readonly reader: SocketReader;
  private transmission: Transmission | undefined;
  private closing = false;
  private exportName: string | undefined;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly catalog: NbdExportCatalog,
    private readonly limits: NbdLimits,
    readonly log: Logger,
    private readonly budget: ByteBudget,
  ) {
    socket.setNoDelay(true);
    this.reader = new SocketReader(socket);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
  }

  async run(): Promise<void> {
    const started = Date.now();
    const timer = setTimeout(() => {
      this.log.warn({ timeoutMs: this.limits.handshakeTimeoutMs }, 'handshake timed out; closing');
      this.socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    try {
      const nego = await negotiate({
        reader: this.reader,
        write: (parts) => this.write(parts),
        log: this.log,
        limits: this.limits,
        catalog: this.catalog,
      });
      clearTimeout(timer);
      if (!nego || this.closing) return this.end();
      this.log.info(
        {
          export: nego.export.name,
          size: nego.export.source.size,
          structured: nego.structuredReplies,
          extended: nego.extendedHeaders,
          blockStatus: nego.allocationContext !== undefined,
        },
        'client connected to export',
      );
      this.exportName = nego.export.name;
      this.transmission = new Transmission(this.socket, this.reader, nego, this.limits, this.log, this.budget);
      const how = await this.transmission.run();
      this.log.info({ export: nego.export.name, how, seconds: (Date.now() - started) / 1000 }, 'client session ended');
      if (how === 'violation') this.socket.destroy();
      else this.end();
    } catch (e) {
      clearTimeout(timer);
      if (e instanceof ProtocolViolation) this.log.warn({ reason: e.message }, 'protocol violation; closing connection');
      else if (e instanceof TruncatedError) this.log.debug({ reason: e.message }, 'client left during handshake');
      else this.log.error({ err: e }, 'connection failed');
      this.socket.destroy();
    }
  }

  stats(): NbdConnectionStats {
    return {
      export: this.exportName,
      requestsInFlight: this.transmission?.requestsInFlight ?? 0,
      queuedReplyBytes: this.transmission?.queuedReplyBytes ?? 0,
      peer: this.socket.remoteAddress ?? 'unix',
      bytesSent: this.socket.bytesWritten,
    };
  }

  /** Graceful stop: a connection still haggling is closed; one in transmission finishes in-flight replies. */
  shutdown(): void {
    this.closing = true;
    if (this.transmission) this.transmission.stop();
    else this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private write(parts: Buffer[]): void {
    if (this.socket.destroyed) return;
    this.socket.cork();
    for (const p of parts) this.socket.write(p);
    this.socket.uncork();
  }

  private end(): void {
    if (!this.socket.destroyed) this.socket.end();
    // A client that never closes its side must not keep the socket open forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}
