// Configuration of a serve process: what to serve (archive streams or raw images), the shared
// cache budget, and one listener list per protocol. Listeners bind to loopback unless the user
// explicitly allows other addresses: whoever reaches the port can read every served disk.
import { DiskarcError } from '../src/errors.js';
import type { NbdEndpoint } from '../protocols/nbd/server.js';
import type { LogLevel } from './logging.js';

export const DEFAULT_NBD_PORT = 10809;
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
        `refusing to listen on ${e.host}: it is not a loopback address and anyone who reaches it can read every served disk; add --allow-remote if that is intended`,
        { host: e.host },
      );
    }
  }
}
