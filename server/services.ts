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
}

/** Starts a protocol if the configuration asks for it (resolves undefined otherwise). */
export type ServiceStarter = (config: ServeConfig, catalog: ExportCatalog, log: Logger) => Promise<ProtocolService | undefined>;
