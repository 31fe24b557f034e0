// Configuration of a serve process: what to serve (archive streams or raw images), the shared
// cache budget, and one listener list per protocol. Listeners bind to loopback unless the user
// explicitly allows other addresses: whoever reaches the port can read every served disk.
import { DiskarcError } from '../src/errors.js';
import type { NbdEndpoint } from '../protocols/nbd/server.js';
import type { ProxyEndpoint } from '../protocols/imdproxy/server.js';
import type { LogLevel } from './logging.js';

export const DEFAULT_NBD_PORT = 10809;
/** ImDisk's and Arsenal Image Mounter's default port for `-t proxy -o ip`. */
export const DEFAULT_PROXY_PORT = 9000;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_WEBDAV_PORT = 8080;

/** The read-only WebDAV share (docs/webdav.md): where it listens, optional Basic auth and TLS. */
export interface WebDavConfig {
  endpoints: Array<{ host: string; port: number }>;
  /** Basic authentication: this user, with the password on the first line of passwordFile. */
  user?: string;
  passwordFile?: string;
  /** PEM files: serve HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
}

export interface ServeConfig {
  /** Archive directory whose streams are served. */
  archive?: string;
  /** Restrict to these streams (id, id prefix or name); all streams when empty. */
  streams: string[];
  /** Raw image files served beside (or instead of) archive streams. */
  images: string[];
  /** Decompressed-slab cache budget shared by every protocol; archive default when undefined. */
  cacheBytes?: number;
  /** Serve partitions as NAME/pN exports too. */
  partitions: boolean;
  nbd: NbdEndpoint[];
  /** Range-proxy (IMDPROXY) listeners, each exporting one disk. */
  proxy?: ProxyListenerConfig[];
  /** The WebDAV share and browser page, when asked for. */
  webdav?: WebDavConfig;
  /** Permit non-loopback TCP addresses. */
  allowRemote: boolean;
  logLevel: LogLevel;
}

/** Parses "HOST:PORT", "[V6]:PORT", "HOST", "PORT" or ":PORT" (missing host = loopback). */
export function parseTcpAddress(value: string, defaultPort: number): { host: string; port: number } {
  const v = value.trim();
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if (/^\d+$/.test(v)) {
    host = '';
    portText = v;
  } else {
    const i = v.lastIndexOf(':');
    if (i >= 0 && v.indexOf(':') === i) {
      host = v.slice(0, i);
      portText = v.slice(i + 1);
    } else {
      host = v; // a bare name or IPv6 address (several colons)
    }
  }
  if (/[[\]\s/]/.test(host)) throw new DiskarcError('EUSAGE', `"${value}" is not a valid address (examples: 127.0.0.1:10809, [::1]:10809)`);
  const port = portText === undefined || portText === '' ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || (portText !== undefined && !/^\d*$/.test(portText))) {
    throw new DiskarcError('EUSAGE', `"${value}" is not a valid address: the port must be 0-65535 (example: 127.0.0.1:10809)`);
  }
  return { host: host === '' ? DEFAULT_HOST : host, port };
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Refuses non-loopback TCP listeners unless explicitly allowed. */
export function checkExposure(endpoints: NbdEndpoint[], allowRemote: boolean): void {
  for (const e of endpoints) {
    if (e.kind === 'tcp' && !isLoopback(e.host) && !allowRemote) {
      throw new DiskarcError(
        'EUSAGE',
        `refusing to listen on ${e.host}: it is not a loopback address and anyone who reaches it can read every served disk; ` +
          `add --allow-remote if that is intended`,
        { host: e.host },
      );
    }
  }
}

/** What one range-proxy listener exports: a disk, one of its partitions, or a byte window of either. */
export interface ProxyExportSpec {
  /** Stream id, id prefix or name ('' or undefined: the default export). */
  stream?: string;
  /** Partition number (1-based, `STREAM:pN`). */
  partition?: number;
  /** Window start within the disk or partition. */
  offset?: number;
  /** Window length (default: to the end). */
  length?: number;
}

export interface ProxyListenerConfig {
  endpoint: ProxyEndpoint;
  export: ProxyExportSpec;
}

/** The proxy-related options of a serve command line, in the order they were given. */
export type ProxyOption =
  | { kind: 'listener'; endpoint: ProxyEndpoint }
  | { kind: 'stream'; ref: string }
  | { kind: 'offset'; value: number }
  | { kind: 'length'; value: number };

/** Splits `STREAM:pN` into the stream and partition N; other text is a stream reference as it is. */
export function parseStreamRef(value: string): { stream: string; partition?: number } {
  const m = /^(.+):p([1-9]\d*)$/.exec(value);
  return m ? { stream: m[1]!, partition: Number(m[2]) } : { stream: value };
}

/**
 * Pairs each --proxy / --proxy-socket with what it exports, by position: listeners given one after
 * another form a group, and the -s, --offset and --length that follow them (up to the next
 * listener) say what the group exports. A group with no -s of its own takes the one -s given
 * before the first listener (with its --offset/--length), or else the default export.
 */
export function groupProxyOptions(options: ProxyOption[]): ProxyListenerConfig[] {
  interface Group {
    endpoints: ProxyEndpoint[];
    streams: string[];
    offsets: number[];
    lengths: number[];
  }
  const fresh = (): Group => ({ endpoints: [], streams: [], offsets: [], lengths: [] });
  const prefix = fresh();
  const groups: Group[] = [];
  let current = prefix;
  for (const o of options) {
    if (o.kind === 'listener') {
      const open = current !== prefix && current.streams.length + current.offsets.length + current.lengths.length === 0;
      if (!open) {
        current = fresh();
        groups.push(current);
      }
      current.endpoints.push(o.endpoint);
    } else if (o.kind === 'stream') current.streams.push(o.ref);
    else if (o.kind === 'offset') current.offsets.push(o.value);
    else current.lengths.push(o.value);
  }
  if (groups.length === 0) {
    if (prefix.offsets.length + prefix.lengths.length > 0)
      throw new DiskarcError(
        'EUSAGE',
        '--offset and --length choose the window a --proxy listener exports: give them after --proxy … -s STREAM',
      );
    return [];
  }
  const where = (g: Group): string => g.endpoints.map((e) => (e.kind === 'unix' ? e.path : `${e.host}:${e.port}`)).join(', ');
  const spec = (g: Group, what: string): ProxyExportSpec => {
    if (g.streams.length > 1)
      throw new DiskarcError(
        'EUSAGE',
        `${what} has several -s (${g.streams.join(', ')}): a proxy listener exports one disk; give each its own --proxy … -s STREAM`,
      );
    if (g.offsets.length > 1 || g.lengths.length > 1) throw new DiskarcError('EUSAGE', `${what} has more than one --offset or --length`);
    const ref = g.streams[0] !== undefined ? parseStreamRef(g.streams[0]) : {};
    return {
      ...ref,
      ...(g.offsets[0] !== undefined ? { offset: g.offsets[0] } : {}),
      ...(g.lengths[0] !== undefined ? { length: g.lengths[0] } : {}),
    };
  };
  const out: ProxyListenerConfig[] = [];
  for (const g of groups) {
    let s: ProxyExportSpec;
    if (g.streams.length > 0) s = spec(g, `--proxy ${where(g)}`);
    else {
      if (prefix.streams.length > 1)
        throw new DiskarcError(
          'EUSAGE',
          `which disk does the proxy listener ${where(g)} export? Several -s were given before it: put -s STREAM after --proxy`,
        );
      const inherited = spec(prefix, 'the options before the first --proxy');
      const own = spec({ ...g, streams: [] }, `--proxy ${where(g)}`);
      s = { ...inherited, ...own };
    }
    for (const endpoint of g.endpoints) out.push({ endpoint, export: s });
  }
  return out;
}
