// The browser page's live panel: a WebSocket (ws) on the WebDAV listeners that pushes, once a
// second, what the serve process is doing — connections and bytes per protocol, the slab cache's
// hits, misses and budget, and each client's throughput (computed here from byte deltas).
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface LiveTraffic {
  protocol: string;
  connections: number;
  bytes: number;
  clients: Array<{ peer: string; connections: number; bytes: number }>;
}

export interface LiveSource {
  traffic(): LiveTraffic[];
  cache(): { hits: number; misses: number; bytes: number; budget: number } | undefined;
}

export interface LiveMessage {
  time: string;
  protocols: Array<{ protocol: string; connections: number; bytes: number }>;
  cache?: { hits: number; misses: number; bytes: number; budget: number };
  clients: Array<{ peer: string; protocol: string; connections: number; bytes: number; bytesPerSecond: number }>;
}

export interface LivePanelOptions {
  source: LiveSource;
  /** The request target the page connects to ("/?live"). */
  target: string;
  /** Same check as every other request (Basic auth); true when allowed. */
  authorize(req: IncomingMessage): boolean;
  intervalMs?: number;
}

export class LivePanel {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  private readonly timer: NodeJS.Timeout;
  private last = new Map<string, number>();
  private lastAt = Date.now();

  constructor(private readonly opts: LivePanelOptions) {
    this.timer = setInterval(() => this.broadcast(), opts.intervalMs ?? 1000);
    this.timer.unref();
    this.wss.on('connection', (ws: WebSocket) => {
      ws.on('error', () => ws.terminate());
      // The first message at once, so a page does not wait a whole interval.
      ws.send(JSON.stringify(this.message(false)));
    });
  }

  /** Serves the panel's upgrades on `server`; any other upgrade is refused. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      const refuse = (status: string): void => {
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      };
      if (req.url !== this.opts.target) return refuse('404 Not Found');
      if (!this.opts.authorize(req)) return refuse('401 Unauthorized');
      // Another site's page must not read this one's panel (cross-site WebSocket hijacking).
      const origin = req.headers.origin;
      if (origin !== undefined && new URL(origin, 'http://invalid').host !== req.headers.host) return refuse('403 Forbidden');
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
    });
  }

  message(advance = true): LiveMessage {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.lastAt) / 1000);
    const traffic = this.opts.source.traffic();
    const next = new Map<string, number>();
    const clients: LiveMessage['clients'] = [];
    for (const t of traffic) {
      for (const c of t.clients) {
        const key = `${t.protocol} ${c.peer}`;
        next.set(key, c.bytes);
        const before = this.last.get(key) ?? c.bytes;
        clients.push({
          peer: c.peer,
          protocol: t.protocol,
          connections: c.connections,
          bytes: c.bytes,
          bytesPerSecond: Math.max(0, Math.round((c.bytes - before) / seconds)),
        });
      }
    }
    if (advance) {
      this.last = next;
      this.lastAt = now;
    }
    const cache = this.opts.source.cache();
    return {
      time: new Date(now).toISOString(),
      protocols: traffic.map((t) => ({ protocol: t.protocol, connections: t.connections, bytes: t.bytes })),
      ...(cache ? { cache: { hits: cache.hits, misses: cache.misses, bytes: cache.bytes, budget: cache.budget } } : {}),
      clients,
    };
  }

  private broadcast(): void {
    if (this.wss.clients.size === 0) {
      this.message(true);
      return;
    }
    const text = JSON.stringify(this.message(true));
    for (const ws of this.wss.clients) if (ws.readyState === ws.OPEN && ws.bufferedAmount < 1024 * 1024) ws.send(text);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
