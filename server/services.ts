// What the serve process runs: one service per protocol, each started over the shared export
// catalog and stopped along the one shutdown path. NBD is the first; WebDAV and the range proxy
// add a starter here and a listener list in ServeConfig.
import type { Logger } from 'pino';
import type { ExportCatalog } from './catalog.js';
import type { ServeConfig } from './config.js';

/** A bound listener: TCP with its real port (when 0 was asked for) or a Unix socket path. */
export type BoundAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface ServeListener {
  protocol: string;
  /** A URI a client of that protocol understands (export name left out). */
  uri: string;
  bound: BoundAddress;
}

export interface ProtocolService {
  readonly protocol: string;
  readonly listeners: ServeListener[];
  /** Graceful: stop accepting, let in-flight requests finish, close connections. */
  close(): Promise<void>;
  /** Its traffic so far (optional). */
  traffic?(): ProtocolTraffic;
  /** Called once, after every service has started (optional). */
  observe?(view: ServeView): void;
}

/** What a protocol has served, for the live panel: totals and per client address. */
export interface ProtocolTraffic {
  protocol: string;
  connections: number;
  bytes: number;
  clients: Array<{ peer: string; connections: number; bytes: number }>;
}

/** The whole process as one service may observe it (the browser page's live panel). */
export interface ServeView {
  services(): readonly ProtocolService[];
  /** The shared slab cache's counters, when an archive is served. */
  cacheStats(): { hits: number; misses: number; bytes: number; budget: number } | undefined;
}

/** Starts a protocol if the configuration asks for it (resolves undefined otherwise). */
export type ServiceStarter = (config: ServeConfig, catalog: ExportCatalog, log: Logger) => Promise<ProtocolService | undefined>;
