// What the WebDAV listener has served, for the logs and the live panel: open connections,
// requests, bytes sent, and per client (address) its connections and bytes.

export interface ClientTraffic {
  peer: string;
  connections: number;
  bytes: number;
}

export interface TrafficSnapshot {
  connections: number;
  requests: number;
  bytes: number;
  clients: ClientTraffic[];
}

interface Client {
  connections: number;
  bytes: number;
  lastSeen: number;
}

/** Idle clients are forgotten after this, so the table stays bounded by recent peers. */
const FORGET_MS = 60_000;

export class Traffic {
  connections = 0;
  requests = 0;
  bytes = 0;
  private readonly clients = new Map<string, Client>();

  private client(peer: string): Client {
    let c = this.clients.get(peer);
    if (!c) {
      c = { connections: 0, bytes: 0, lastSeen: Date.now() };
      this.clients.set(peer, c);
    }
    return c;
  }

  opened(peer: string): void {
    this.connections++;
    const c = this.client(peer);
    c.connections++;
    c.lastSeen = Date.now();
  }

  closed(peer: string): void {
    this.connections--;
    const c = this.client(peer);
    c.connections--;
    c.lastSeen = Date.now();
  }

  sent(peer: string, bytes: number): void {
    this.bytes += bytes;
    const c = this.client(peer);
    c.bytes += bytes;
    c.lastSeen = Date.now();
  }

  snapshot(): TrafficSnapshot {
    const now = Date.now();
    const clients: ClientTraffic[] = [];
    for (const [peer, c] of this.clients) {
      if (c.connections === 0 && now - c.lastSeen > FORGET_MS) {
        this.clients.delete(peer);
        continue;
      }
      clients.push({ peer, connections: c.connections, bytes: c.bytes });
    }
    return { connections: this.connections, requests: this.requests, bytes: this.bytes, clients };
  }
}
