// The IMDPROXY server: each listener (TCP or Unix socket) exports one disk; every accepted client
// gets a ProxySession on it. Listeners share one reply-byte budget and connection limit, and shut
// down gracefully (stop accepting, let the reply being sent finish, then cut what remains).
import { raiseSendBuffer, removeStaleSocket } from '../wire/unix-socket.js';
import { createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import { DiskarcError } from '../../src/errors.js';
import { ByteBudget } from '../nbd/byte-budget.js';
import { defaultProxyLimits, type ProxyLimits } from './limits.js';
import { ProxySession, type ProxyExport } from './session.js';

export type ProxyEndpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface ProxyListening {
  endpoint: ProxyEndpoint;
  /** The bound address (the real port when 0 was asked for). */
  bound: ProxyEndpoint;
  /** What a client is given: "HOST:PORT" (ImDisk's and AIM's -f text) or the socket path. */
  address: string;
  export: ProxyExport;
}

export function proxyAddress(bound: ProxyEndpoint): string {
  if (bound.kind === 'unix') return bound.path;
  return `${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`;
}

export class ProxyServer {
  readonly limits: ProxyLimits;
  private readonly budget: ByteBudget;
  private readonly listeners: Array<{ server: Server; listening: ProxyListening }> = [];
  private readonly sessions = new Set<ProxySession>();
  private nextId = 1;
  private closing = false;

  constructor(
    private readonly log: Logger,
    limits: Partial<ProxyLimits> = {},
  ) {
    this.limits = { ...defaultProxyLimits, ...limits };
    this.budget = new ByteBudget(this.limits.maxServerReplyBytes);
  }

  get listening(): ProxyListening[] {
    return this.listeners.map((l) => l.listening);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Listens on `endpoint`, serving `exp` to every client that connects there. */
  async listen(endpoint: ProxyEndpoint, exp: ProxyExport): Promise<ProxyListening> {
    if (endpoint.kind === 'unix') await removeStaleSocket(endpoint.path);
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket, endpoint, exp));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = endpoint.kind === 'unix' ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
        reject(
          new DiskarcError(
            'ESERVER',
            `cannot listen for the range proxy on ${where}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`,
            { endpoint },
            { cause: err },
          ),
        );
      });
      if (endpoint.kind === 'unix') server.listen(endpoint.path, resolve);
      else server.listen({ host: endpoint.host, port: endpoint.port }, resolve);
    });
    server.on('error', (err) => this.log.error({ err }, 'proxy listener error'));
    const addr = server.address();
    const bound: ProxyEndpoint =
      endpoint.kind === 'unix' || addr === null || typeof addr === 'string'
        ? endpoint
        : { kind: 'tcp', host: addr.address, port: addr.port };
    const listening = { endpoint, bound, address: proxyAddress(bound), export: exp };
    this.listeners.push({ server, listening });
    this.log.info({ address: listening.address, export: exp.name, size: exp.source.size }, 'range proxy listening');
    return listening;
  }

  private accept(socket: Socket, endpoint: ProxyEndpoint, exp: ProxyExport): void {
    const id = this.nextId++;
    const peer = endpoint.kind === 'unix' ? 'unix' : `${socket.remoteAddress}:${socket.remotePort}`;
    const log = this.log.child({ conn: id, peer });
    if (this.closing || this.sessions.size >= this.limits.maxConnections) {
      log.warn({ connections: this.sessions.size, closing: this.closing }, 'connection refused (limit reached or shutting down)');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    if (endpoint.kind === 'unix') raiseSendBuffer(socket, log);
    const session = new ProxySession(socket, exp, this.limits, log, this.budget);
    this.sessions.add(session);
    log.debug({ export: exp.name }, 'connection accepted');
    void session.closed.then(() => this.sessions.delete(session));
    void session.run();
  }

  /** Stops listening (removing Unix socket files), lets replies being sent finish, then closes every connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const stopped = this.listeners.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const s of this.sessions) s.shutdown();
    const all = Promise.all([...this.sessions].map((s) => s.closed));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.limits.shutdownGraceMs);
    });
    if ((await Promise.race([all.then(() => 'done' as const), grace])) === 'timeout') {
      this.log.warn({ connections: this.sessions.size }, 'shutdown grace period over; cutting remaining connections');
      for (const s of this.sessions) s.destroy();
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
