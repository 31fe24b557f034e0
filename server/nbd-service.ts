// The NBD protocol as a serve-process service: one NbdServer over the shared catalog, listening
// on every configured TCP address and Unix socket.
import type { Logger } from 'pino';
import { NbdServer } from '../protocols/nbd/server.js';
import type { ExportCatalog } from './catalog.js';
import type { ServeConfig } from './config.js';
import type { ProtocolService, ProtocolTraffic, ServeListener } from './services.js';

export class NbdService implements ProtocolService {
  readonly protocol = 'nbd';
  private constructor(
    readonly server: NbdServer,
    readonly listeners: ServeListener[],
  ) {}

  static async start(config: ServeConfig, catalog: ExportCatalog, log: Logger): Promise<NbdService | undefined> {
    if (config.nbd.length === 0) return undefined;
    const server = new NbdServer({ catalog, log: log.child({ protocol: 'nbd' }) });
    const listeners: ServeListener[] = [];
    try {
      for (const endpoint of config.nbd) {
        const l = await server.listen(endpoint);
        listeners.push({ protocol: 'nbd', uri: l.uri, bound: l.bound });
      }
    } catch (e) {
      await server.close();
      throw e;
    }
    return new NbdService(server, listeners);
  }

  close(): Promise<void> {
    return this.server.close();
  }

  traffic(): ProtocolTraffic {
    const clients = new Map<string, { peer: string; connections: number; bytes: number }>();
    for (const c of this.server.connectionStats()) {
      const entry = clients.get(c.peer) ?? { peer: c.peer, connections: 0, bytes: 0 };
      entry.connections++;
      entry.bytes += c.bytesSent;
      clients.set(c.peer, entry);
    }
    return { protocol: 'nbd', connections: this.server.connectionCount, bytes: this.server.bytesSent, clients: [...clients.values()] };
  }
}
