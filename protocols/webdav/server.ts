// A read-only WebDAV server (RFC 4918 class 1) over a VirtualTree, on node:http / node:https:
// OPTIONS, PROPFIND (Depth 0 and 1), GET and HEAD (ranges, conditionals) — every method that would
// change something is refused with 405 and changes nothing. GET of a collection is the browser
// page. Files are read straight from the tree's BlockSources; nothing is cached here.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { DiskarcError, isDiskarcError, type ErrorCode } from '../../src/errors.js';
import type { BlockSource } from '../../src/block/source.js';
import type { DirEntry, TreeNode, VirtualTree } from '../../fs/tree/types.js';
import type { BasicAuth } from './basic-auth.js';
import { evaluatePreconditions, rangeStillValid, type Validators } from './conditionals.js';
import { contentType } from './content-type.js';
import { decodeRequestPath, encodeHref, treePath } from './paths.js';
import { MULTISTATUS_HEAD, MULTISTATUS_TAIL, renderResponse, type Member } from './properties.js';
import { MalformedBody, MAX_PROPFIND_BODY, parsePropfind, type PropfindRequest } from './propfind-request.js';
import { parseRange, type ByteRange } from './ranges.js';
import { sendRange } from './send-range.js';
import { Traffic } from './traffic.js';
import { renderBrowsePage, PANEL_SCRIPT, PANEL_SCRIPT_QUERY } from './browse-page.js';

export interface WebDavEndpoint {
  host: string;
  port: number;
}

export interface WebDavListening {
  bound: WebDavEndpoint;
  uri: string;
  server: Server;
}

export interface WebDavServerOptions {
  tree: VirtualTree;
  log: Logger;
  auth?: BasicAuth;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  /** Shown on the browser page; its live panel connects to this query when set. */
  livePanelQuery?: string;
}

const READ_METHODS = ['OPTIONS', 'GET', 'HEAD', 'PROPFIND'];
const ALLOW = READ_METHODS.join(', ');
/** Methods that would write (RFC 4918, RFC 3253, RFC 5789…): refused with 405. */
const WRITE_METHODS = new Set(['PUT', 'POST', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPPATCH', 'LOCK', 'UNLOCK', 'PATCH', 'ACL', 'BIND', 'UNBIND', 'REBIND', 'MKCALENDAR', 'VERSION-CONTROL', 'CHECKIN', 'CHECKOUT', 'UNCHECKOUT', 'MKWORKSPACE', 'UPDATE', 'LABEL', 'MERGE', 'MKACTIVITY', 'ORDERPATCH', 'SEARCH', 'REPORT', 'TRACE', 'CONNECT']);
/** A PROPFIND answer up to this size is sent with a Content-Length; a larger one is streamed. */
const BUFFERED_MULTISTATUS = 1024 * 1024;
/** Members rendered between two waits for the socket. */
const MEMBERS_PER_WRITE = 512;
/** Windows' default FileAttributesLimitInBytes: a larger PROPFIND answer shows the folder empty there. */
const WINDOWS_PROPFIND_LIMIT = 1_000_000;
/** In-flight requests get this long to finish at shutdown. */
const CLOSE_GRACE_MS = 5000;

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** The HTTP status of each expected failure class; anything else (damage, I/O, bugs) is a logged 500. */
const statusByCode: Partial<Record<ErrorCode, number>> = {
  ENOTFOUND: 404,
  ENOSTREAM: 404,
  ENOTDIR: 404,
  ERANGE: 416,
  EPERMISSION: 403,
};

export class WebDavServer {
  readonly traffic = new Traffic();
  private readonly listeners: WebDavListening[] = [];
  private readonly sockets = new Set<Socket>();
  private closing = false;

  constructor(private readonly opts: WebDavServerOptions) {}

  /** True when the request carries the credentials this server requires (or none are required). */
  authorize(req: IncomingMessage): boolean {
    return !this.opts.auth || this.opts.auth.check(req.headers.authorization);
  }

  get listening(): WebDavListening[] {
    return [...this.listeners];
  }

  async listen(endpoint: WebDavEndpoint): Promise<WebDavListening> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((e: unknown) => this.failed(req, res, e));
    };
    const server = this.opts.tls ? createHttpsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler) : createHttpServer(handler);
    // A slow or stuck client may hold a socket only so long before its request is complete.
    server.headersTimeout = 15_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    // TCP connections, TLS ones before their handshake too: shutdown's grace period covers them all.
    server.on('connection', (socket: Socket) => this.track(socket));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      this.opts.log.debug({ err: err.message, code: err.code }, 'malformed request');
      if (socket.writable && !(socket as Socket & { _httpMessage?: unknown })._httpMessage) {
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      } else {
        socket.destroy();
      }
    });
    // CONNECT (a proxy tunnel) never reaches the request handler: refuse it here, as any other method we do not serve.
    server.on('connect', (_req: IncomingMessage, socket: Socket) => {
      socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOW}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    server.on('tlsClientError', (err: Error) => this.opts.log.debug({ err: err.message }, 'TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(new DiskarcError('ESERVER', `cannot listen for WebDAV on ${endpoint.host}:${endpoint.port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`, { host: endpoint.host, port: endpoint.port }));
      };
      server.once('error', onError);
      server.listen(endpoint.port, endpoint.host, () => {
        server.off('error', onError);
        server.on('error', (e: Error) => this.opts.log.error({ err: e.message }, 'WebDAV listener error'));
        resolve();
      });
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : endpoint.port;
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
    const listening = { bound: { host: endpoint.host, port }, uri: `${this.opts.tls ? 'https' : 'http'}://${host}:${port}/`, server };
    this.listeners.push(listening);
    this.opts.log.info({ uri: listening.uri }, 'WebDAV listening');
    return listening;
  }

  /** Stops accepting, lets in-flight responses finish (at most 5 s), then cuts what is left. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    for (const l of this.listeners) l.server.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, CLOSE_GRACE_MS);
    await Promise.all(closed);
    clearTimeout(timer);
  }

  private track(socket: Socket): void {
    const peer = socket.remoteAddress ?? 'unknown';
    this.sockets.add(socket);
    this.traffic.opened(peer);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.traffic.closed(peer);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.traffic.requests++;
    res.setHeader('DAV', '1');
    res.setHeader('MS-Author-Via', 'DAV');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (this.closing) res.setHeader('Connection', 'close');
    const method = (req.method ?? '').toUpperCase();
    if (!this.authorize(req)) {
      throw new HttpError(401, 'authentication required', { 'WWW-Authenticate': this.opts.auth!.challenge });
    }
    const target = req.url ?? '/';
    const path = decodeRequestPath(target);
    if (!path.ok) throw new HttpError(path.status, path.reason);
    if (method === 'OPTIONS') {
      res.writeHead(200, { Allow: ALLOW, 'Content-Length': '0', 'Accept-Ranges': 'bytes' });
      res.end();
      return;
    }
    if (method === 'GET' || method === 'HEAD') {
      if (path.segments.length === 0 && target.endsWith(PANEL_SCRIPT_QUERY)) return this.sendText(req, res, 200, PANEL_SCRIPT, 'text/javascript; charset=utf-8');
      return this.get(req, res, path.segments, method === 'HEAD');
    }
    if (method === 'PROPFIND') return this.propfind(req, res, path.segments);
    if (WRITE_METHODS.has(method)) throw new HttpError(405, `${method} is not allowed: this share is read-only`, { Allow: ALLOW });
    throw new HttpError(501, `${method} is not implemented`, { Allow: ALLOW });
  }

  // ---- lookups ----

  private async node(segments: string[]): Promise<TreeNode> {
    const node = await this.opts.tree.lookup(treePath(segments));
    // WebDAV has no links: symlinks and junctions are not part of the shared tree (see docs/webdav.md).
    if (node.type === 'symlink') throw new HttpError(404, 'not found');
    return node;
  }

  private async entries(segments: string[]): Promise<DirEntry[]> {
    return (await this.opts.tree.readdir(treePath(segments))).filter((e) => e.node.type !== 'symlink');
  }

  /** Strong validators: a node's bytes never change while its path, size, time and stream's pack time stay the same. */
  private async etagFor(segments: string[]): Promise<(path: string, node: TreeNode) => string> {
    // A stream re-packed under the same name has a new pack time (its directory's mtime): new tags.
    const stream = segments.length > 0 ? (await this.opts.tree.lookup(treePath(segments.slice(0, 1)))).mtime.getTime() : 0;
    return (path, node) => '"' + createHash('sha1').update(`${stream}\0${path}\0${node.size}\0${node.mtime.getTime()}`).digest('hex').slice(0, 20) + '"';
  }

  // ---- GET / HEAD ----

  private async get(req: IncomingMessage, res: ServerResponse, segments: string[], head: boolean): Promise<void> {
    const node = await this.node(segments);
    if (node.type === 'directory') {
      const html = await renderBrowsePage(this.opts.tree, segments, await this.entries(segments), { livePanelQuery: this.opts.livePanelQuery });
      res.setHeader('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:");
      res.setHeader('Cache-Control', 'no-cache');
      return this.sendText(req, res, 200, html, 'text/html; charset=utf-8', head);
    }
    const path = treePath(segments);
    const v: Validators = { etag: (await this.etagFor(segments))(path, node), lastModified: node.mtime };
    const common = {
      ETag: v.etag,
      'Last-Modified': v.lastModified.toUTCString(),
      'Accept-Ranges': 'bytes',
      // A file from an archived disk must never run as a page of this origin (it may be HTML or SVG).
      'Content-Security-Policy': 'sandbox',
    };
    const pre = evaluatePreconditions(req.headers, v);
    if (pre === 'failed') throw new HttpError(412, 'precondition failed', common);
    if (pre === 'not-modified') {
      res.writeHead(304, common);
      res.end();
      return;
    }
    const type = contentType(segments[segments.length - 1] ?? '');
    const size = node.size;
    const range = rangeStillValid(req.headers, v) ? parseRange(req.headers.range, size) : { kind: 'whole' as const };
    if (range.kind === 'unsatisfiable') throw new HttpError(416, `the range is past the end of the file (${size} bytes)`, { ...common, 'Content-Range': `bytes */${size}` });
    const parts: ByteRange[] = range.kind === 'ranges' ? range.ranges : size > 0 ? [{ start: 0, end: size - 1 }] : [];
    if (range.kind === 'whole' || parts.length === 1) {
      const whole = range.kind === 'whole';
      const p = parts[0];
      res.writeHead(whole ? 200 : 206, {
        ...common,
        'Content-Type': type,
        'Content-Length': String(p ? p.end - p.start + 1 : 0),
        ...(whole ? {} : { 'Content-Range': `bytes ${p!.start}-${p!.end}/${size}` }),
      });
      if (head || !p) return void res.end();
      return this.stream(req, res, path, [{ range: p }]);
    }
    // multipart/byteranges (RFC 9110 §14.6): the length is known before a byte is read.
    const boundary = randomBytes(12).toString('hex');
    const pieces = parts.map((r, i) => ({
      range: r,
      header: `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`,
    }));
    const tail = `\r\n--${boundary}--\r\n`;
    const length = pieces.reduce((n, p) => n + Buffer.byteLength(p.header) + p.range.end - p.range.start + 1, Buffer.byteLength(tail));
    res.writeHead(206, { ...common, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': String(length) });
    if (head) return void res.end();
    return this.stream(req, res, path, pieces, tail);
  }

  private async stream(req: IncomingMessage, res: ServerResponse, path: string, pieces: Array<{ range: ByteRange; header?: string }>, tail?: string): Promise<void> {
    let source: BlockSource;
    try {
      source = await this.opts.tree.open(path);
    } catch (e) {
      // The headers are out: the client sees a short body and the connection closes.
      this.opts.log.error({ path, err: (e as Error).message }, 'cannot open a file for reading');
      res.destroy();
      return;
    }
    const peer = req.socket.remoteAddress ?? 'unknown';
    const progress = { sent: (n: number) => this.traffic.sent(peer, n) };
    try {
      for (const p of pieces) {
        if (p.header) res.write(p.header);
        if (!(await sendRange(res, source, p.range.start, p.range.end, progress))) return;
      }
      res.end(tail);
    } catch (e) {
      this.opts.log.error({ path, err: (e as Error).message }, 'read failed while sending a file; connection cut');
      res.destroy();
    } finally {
      await source.close().catch((e: unknown) => this.opts.log.warn({ path, err: (e as Error).message }, 'closing a file failed'));
    }
  }

  // ---- PROPFIND ----

  private async propfind(req: IncomingMessage, res: ServerResponse, segments: string[]): Promise<void> {
    const depth = String(req.headers.depth ?? 'infinity').trim().toLowerCase();
    if (depth !== '0' && depth !== '1') {
      // RFC 4918 §9.1: a server may refuse Depth: infinity, naming the precondition.
      await this.readBody(req).catch(() => '');
      return this.sendText(req, res, 403, `<?xml version="1.0" encoding="utf-8"?>\n<error xmlns="DAV:"><propfind-finite-depth/></error>\n`, 'application/xml; charset=utf-8');
    }
    let request: PropfindRequest;
    try {
      request = parsePropfind(await this.readBody(req));
    } catch (e) {
      if (e instanceof MalformedBody) throw new HttpError(400, `malformed PROPFIND body: ${e.message}`);
      throw e;
    }
    const node = await this.node(segments);
    const etag = await this.etagFor(segments);
    const self = treePath(segments);
    const member = (segs: string[], path: string, name: string, n: TreeNode): Member => ({
      href: encodeHref(segs, n.type === 'directory'),
      name,
      node: n,
      etag: () => etag(path, n),
    });
    const first = renderResponse(member(segments, self, segments[segments.length - 1] ?? '', node), request);
    const children = depth === '1' && node.type === 'directory' ? await this.entries(segments) : [];
    let buffered = MULTISTATUS_HEAD + first;
    let i = 0;
    const renderBatch = (): string => {
      let out = '';
      const end = Math.min(children.length, i + MEMBERS_PER_WRITE);
      for (; i < end; i++) {
        const c = children[i]!;
        const segs = [...segments, c.name];
        out += renderResponse(member(segs, treePath(segs), c.name, c.node), request);
      }
      return out;
    };
    while (i < children.length && buffered.length <= BUFFERED_MULTISTATUS) buffered += renderBatch();
    const headers = { 'Content-Type': 'application/xml; charset=utf-8' };
    if (i >= children.length) {
      buffered += MULTISTATUS_TAIL;
      const bytes = Buffer.byteLength(buffered);
      if (bytes > WINDOWS_PROPFIND_LIMIT) this.warnLarge(self, bytes);
      res.writeHead(207, { ...headers, 'Content-Length': String(bytes) });
      res.end(buffered);
      return;
    }
    // A very large directory: streamed in batches, each after the socket has taken the last.
    this.warnLarge(self, undefined);
    res.writeHead(207, headers);
    res.write(buffered);
    while (i < children.length) {
      if (res.destroyed) return;
      if (!res.write(renderBatch())) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
    }
    res.end(MULTISTATUS_TAIL);
  }

  private readonly warnedLarge = new Set<string>();

  /** Once per directory: Windows would show it empty unless FileAttributesLimitInBytes is raised. */
  private warnLarge(path: string, bytes: number | undefined): void {
    if (this.warnedLarge.has(path) || this.warnedLarge.size > 1000) return;
    this.warnedLarge.add(path);
    this.opts.log.info({ path, bytes: bytes ?? `over ${BUFFERED_MULTISTATUS}` }, 'PROPFIND answer exceeds 1,000,000 bytes: Windows shows this folder empty unless FileAttributesLimitInBytes is raised (docs/webdav.md)');
  }

  private readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > MAX_PROPFIND_BODY) return reject(new HttpError(413, `a request body over ${MAX_PROPFIND_BODY} bytes is refused`));
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_PROPFIND_BODY) {
          req.removeAllListeners('data');
          req.resume();
          reject(new HttpError(413, `a request body over ${MAX_PROPFIND_BODY} bytes is refused`));
        } else {
          chunks.push(c);
        }
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  // ---- answers ----

  private sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string, type: string, head = req.method === 'HEAD', headers: Record<string, string> = {}): void {
    const body = Buffer.from(text);
    res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': String(body.length) });
    res.end(head ? undefined : body);
    this.traffic.sent(req.socket.remoteAddress ?? 'unknown', head ? 0 : body.length);
  }

  private failed(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    let status = 500;
    let message = 'internal error';
    let headers: Record<string, string> = {};
    if (e instanceof HttpError) {
      status = e.status;
      message = e.message;
      headers = e.headers;
    } else if (isDiskarcError(e) && statusByCode[e.code] !== undefined) {
      status = statusByCode[e.code]!;
      message = status === 404 ? 'not found' : e.message;
    } else {
      this.opts.log.error({ method: req.method, url: req.url, err: (e as Error)?.message ?? String(e) }, 'WebDAV request failed');
      message = isDiskarcError(e) ? e.message : 'internal error';
    }
    if (status < 500) this.opts.log.debug({ method: req.method, url: req.url, status, reason: message }, 'WebDAV request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A request whose body we did not read must not be parsed as the next request.
    const unread = !req.complete;
    this.sendText(req, res, status, message + '\n', 'text/plain; charset=utf-8', req.method === 'HEAD', { ...headers, ...(unread ? { Connection: 'close' } : {}) });
  }
}
