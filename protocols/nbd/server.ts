// The NBD server: listens on TCP and/or Unix sockets, runs one NbdConnection per client against a
// shared export catalog, and shuts down gracefully (stop accepting, let in-flight replies finish
// within a grace period, then cut what remains).
import { raiseSendBuffer, removeStaleSocket } from '../wire/unix-socket.js';
import { createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import { DiskarcError } from '../../src/errors.js';
import { ByteBudget } from './byte-budget.js';
import { NbdConnection, type NbdConnectionStats } from './connection.js';
import type { NbdExportCatalog } from './exports.js';
import { defaultNbdLimits, type NbdLimits } from './limits.js';

export type NbdEndpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface NbdListening {
  endpoint: NbdEndpoint;
  /** The bound address (the real port when 0 was asked for). */
  bound: NbdEndpoint;
  /** An NBD URI naming the server (export name left to the client). */
  uri: string;
}

export interface NbdServerOptions {
  catalog: NbdExportCatalog;
  log: Logger;
  limits?: Partial<NbdLimits>;
}

export function nbdUri(bound: NbdEndpoint, exportName = ''): string {
  const name = encodeURIComponent(exportName).replace(/%2F/g, '/');
  if (bound.kind === 'unix') return `nbd+unix:///${name}?socket=${encodeURI(bound.path)}`;
  const host = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
  return `nbd://${host}:${bound.port}/${name}`;
}

export class NbdServer {
  readonly limits: NbdLimits;
  private readonly budget: ByteBudget;
  private readonly listeners: Array<{ server: Server; listening: NbdListening }> = [];
  private readonly connections = new Set<NbdConnection>();
  private nextId = 1;
  /** Bytes sent by connections that have closed (the open ones report their own). */
  private closedBytes = 0;
  private closing = false;

  constructor(private readonly opts: NbdServerOptions) {
    this.limits = { ...defaultNbdLimits, ...opts.limits };
    this.budget = new ByteBudget(this.limits.maxServerReplyBytes);
  }

  /** Reply bytes being produced right now across all connections (bounded by maxServerReplyBytes). */
  get replyBytesInProduction(): number {
    return this.budget.inUse;
  }

  get listening(): NbdListening[] {
    return this.listeners.map((l) => l.listening);
  }

  /** Bytes sent to clients since the server started. */
  get bytesSent(): number {
    let n = this.closedBytes;
    for (const c of this.connections) n += c.stats().bytesSent;
    return n;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Per-connection load: what backpressure bounds (for logs, tests and monitoring). */
  connectionStats(): NbdConnectionStats[] {
    return [...this.connections].map((c) => c.stats());
  }

  async listen(endpoint: NbdEndpoint): Promise<NbdListening> {
    if (endpoint.kind === 'unix') await removeStaleSocket(endpoint.path);
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket, endpoint));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = endpoint.kind === 'unix' ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
        reject(
          new DiskarcError(
            'ESERVER',
            `cannot listen for NBD on ${where}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`,
            { endpoint },
            { cause: err },
          ),
        );
      });
      if (endpoint.kind === 'unix') server.listen(endpoint.path, resolve);
      else server.listen({ host: endpoint.host, port: endpoint.port }, resolve);
    });
    server.on('error', (err) => this.opts.log.error({ err }, 'NBD listener error'));
    const addr = server.address();
    const bound: NbdEndpoint =
      endpoint.kind === 'unix' || addr === null || typeof addr === 'string'
        ? endpoint
        : { kind: 'tcp', host: addr.address, port: addr.port };
    const listening = { endpoint, bound, uri: nbdUri(bound) };
    this.listeners.push({ server, listening });
    this.opts.log.info({ uri: listening.uri }, 'NBD server listening');
    return listening;
  }

  private accept(socket: Socket, endpoint: NbdEndpoint): void {
    const id = this.nextId++;
    const peer = endpoint.kind === 'unix' ? 'unix' : `${socket.remoteAddress}:${socket.remotePort}`;
    const log = this.opts.log.child({ conn: id, peer });
    if (this.closing || this.connections.size >= this.limits.maxConnections) {
      log.warn({ connections: this.connections.size, closing: this.closing }, 'connection refused (limit reached or shutting down)');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    if (endpoint.kind === 'unix') raiseSendBuffer(socket, log);
    const conn = new NbdConnection(socket, this.opts.catalog, this.limits, log, this.budget);
    this.connections.add(conn);
    log.debug('connection accepted');
    void conn.closed.then(() => {
      this.closedBytes += conn.stats().bytesSent;
      this.connections.delete(conn);
      log.debug('connection closed');
    });
    void conn.run();
  }

  /** Stops listening (removing Unix socket files), finishes in-flight replies, then closes every connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const stopped = this.listeners.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const c of this.connections) c.shutdown();
    const all = Promise.all([...this.connections].map((c) => c.closed));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.limits.shutdownGraceMs);
    });
    if ((await Promise.race([all.then(() => 'done' as const), grace])) === 'timeout') {
      this.opts.log.warn({ connections: this.connections.size }, 'shutdown grace period over; cutting remaining connections');
      for (const c of this.connections) c.destroy();
      await all;
    }
    clearTimeout(timer);
    await Promise.all(stopped);
    // libuv unlinks the socket file on close; make sure of it (a leftover file breaks the next start).
    for (const { listening } of this.listeners) {
      if (listening.endpoint.kind === 'unix') await unlink(listening.endpoint.path).catch(() => {});
    }
  }
}
