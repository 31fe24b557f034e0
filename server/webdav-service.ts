// The WebDAV share as a serve-process service: one WebDavServer over the served virtual tree
// (served-tree.ts), on every configured address, with optional Basic auth and TLS, and the live
// panel's WebSocket on the same listeners.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { WebDavServer } from '../protocols/webdav/server.js';
import { BasicAuth, passwordFromFile } from '../protocols/webdav/basic-auth.js';
import { DiskarcError, classifySystemError } from '../src/errors.js';
import type { ExportCatalog } from './catalog.js';
import { checkExposure, type ServeConfig } from './config.js';
import type { ProtocolService, ProtocolTraffic, ServeListener, ServeView } from './services.js';
import { LivePanel } from '../protocols/websocket/live-panel.js';

/** The request target of the live panel's WebSocket (a query: no stream name can collide). */
const LIVE_TARGET = '/?diskarc-live';
import { servedTree } from './served-tree.js';
import type { StreamTree } from '../fs/tree/index.js';

async function readConfigFile(path: string, what: string): Promise<Buffer> {
  return readFile(path).catch((e: unknown) => {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT' || errno === 'EISDIR') {
      throw new DiskarcError(
        'EUSAGE',
        `the ${what} ${path} ${errno === 'ENOENT' ? 'does not exist' : 'is a directory'}: give an existing file`,
        { path },
      );
    }
    throw classifySystemError(e, `reading the ${what} ${path}`);
  });
}

export class WebDavService implements ProtocolService {
  readonly protocol = 'webdav';
  private panel: LivePanel | undefined;
  private constructor(
    readonly server: WebDavServer,
    readonly listeners: ServeListener[],
    private readonly tree: StreamTree,
  ) {}

  static async start(config: ServeConfig, catalog: ExportCatalog, log: Logger): Promise<WebDavService | undefined> {
    const dav = config.webdav;
    if (!dav || dav.endpoints.length === 0) return undefined;
    checkExposure(
      dav.endpoints.map((e) => ({ kind: 'tcp' as const, ...e })),
      config.allowRemote,
    );
    let auth: BasicAuth | undefined;
    if (dav.user !== undefined || dav.passwordFile !== undefined) {
      if (dav.user === undefined || dav.passwordFile === undefined)
        throw new DiskarcError('EUSAGE', '--webdav-user and --webdav-password-file go together');
      const password = passwordFromFile((await readConfigFile(dav.passwordFile, 'WebDAV password file')).toString('utf8'));
      if (password === '')
        throw new DiskarcError('EUSAGE', `the WebDAV password file ${dav.passwordFile} is empty: put the password on its first line`);
      auth = new BasicAuth({ user: dav.user, password });
    }
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (dav.tlsCert !== undefined || dav.tlsKey !== undefined) {
      if (dav.tlsCert === undefined || dav.tlsKey === undefined) throw new DiskarcError('EUSAGE', '--tls-cert and --tls-key go together');
      tls = { cert: await readConfigFile(dav.tlsCert, 'TLS certificate'), key: await readConfigFile(dav.tlsKey, 'TLS key') };
    }
    if (auth && !tls)
      log.warn(
        'WebDAV Basic authentication without TLS sends the password in clear text (and Windows refuses it unless BasicAuthLevel is 2)',
      );
    const tree = servedTree(catalog, config.archive ?? config.images.join(','));
    const server = new WebDavServer({ tree, log: log.child({ protocol: 'webdav' }), auth, tls, livePanelQuery: LIVE_TARGET.slice(1) });
    const listeners: ServeListener[] = [];
    try {
      for (const e of dav.endpoints) {
        const l = await server.listen(e).catch((err: unknown) => {
          if (err instanceof Error && /key|cert|PEM/i.test(err.message) && !(err instanceof DiskarcError)) {
            throw new DiskarcError('EUSAGE', `the TLS certificate or key cannot be used: ${err.message}`);
          }
          throw err;
        });
        listeners.push({ protocol: 'webdav', uri: l.uri, bound: { kind: 'tcp', ...l.bound } });
      }
    } catch (e) {
      await server.close();
      await tree.close();
      throw e;
    }
    return new WebDavService(server, listeners, tree);
  }

  traffic(): ProtocolTraffic {
    const t = this.server.traffic.snapshot();
    return { protocol: 'webdav', connections: t.connections, bytes: t.bytes, clients: t.clients };
  }

  /** The live panel sees every protocol of the process and the shared cache. */
  observe(view: ServeView): void {
    const panel = new LivePanel({
      target: LIVE_TARGET,
      authorize: (req) => this.server.authorize(req),
      source: {
        traffic: () => view.services().flatMap((s) => (s.traffic ? [s.traffic()] : [])),
        cache: () => view.cacheStats(),
      },
    });
    for (const l of this.server.listening) panel.attach(l.server);
    this.panel = panel;
  }

  async close(): Promise<void> {
    await this.panel?.close();
    await this.server.close();
    await this.tree.close();
  }
}
