// One IMDPROXY client connection: requests one at a time (the driver never pipelines), each read
// whole and answered before the next is read, against the one disk its listener exports.
// Whatever the client sends, the outcome is confined to this socket: a malformed, truncated or
// oversized request closes it; nothing throws out.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { isDiskarcError } from '../../src/errors.js';
import { readParts } from '../../src/block/parts.js';
import type { BlockSource } from '../../src/block/source.js';
import type { ByteBudget } from '../nbd/byte-budget.js';
import { SocketReader, TruncatedError } from '../nbd/socket-reader.js';
import { REQUIRED_ALIGNMENT, type ProxyLimits } from './limits.js';
import {
  Code,
  ConnectRequest,
  ConnectResponse,
  Errno,
  ErrnoResponse,
  InfoFlag,
  InfoResponse,
  LengthResponse,
  RangeRequest,
  RangesRequest,
  RequestCode,
  ScsiRequest,
  SharedRequest,
  SharedResponse,
} from './wire.js';

/** The disk a listener exports: shared by its connections, owned by whoever opened it. */
export interface ProxyExport {
  /** Export name, for logs. */
  name: string;
  source: BlockSource;
}

export type SessionEnd = 'close' | 'eof' | 'violation' | 'shutdown';

/** Reads past the end are padded with views of this (ImDisk's devio zero-fills them too). */
const ZEROS = Buffer.alloc(1024 * 1024);

const codeNames = new Map<bigint, string>(Object.entries(RequestCode).map(([k, v]) => [v, k]));

/** A request that breaks the protocol (truncated, oversized payload): the connection closes. */
class ProtocolViolation extends Error {}

export class ProxySession {
  private readonly reader: SocketReader;
  private busy = false;
  private stopping = false;
  private requests = 0;
  private bytesSent = 0;
  private warnedUnknown = false;
  /** Budget held by the read piece being sent, released once the kernel has taken it. */
  private pieceGrant = 0;
  /** Armed while a request's fixed part and payload arrive (undefined otherwise); a reply being sent is not timed. */
  private stalled: NodeJS.Timeout | undefined;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly exp: ProxyExport,
    private readonly limits: ProxyLimits,
    readonly log: Logger,
    private readonly budget: ByteBudget,
  ) {
    socket.setNoDelay(true);
    this.reader = new SocketReader(socket);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
  }

  async run(): Promise<void> {
    const started = Date.now();
    let how: SessionEnd = 'violation';
    try {
      how = await this.serve();
    } catch (e) {
      // Shutdown cuts a request still arriving: that is the server leaving, not the client misbehaving.
      if (e instanceof ProtocolViolation && this.stopping) how = 'shutdown';
      else if (e instanceof ProtocolViolation) this.log.warn({ reason: e.message }, 'protocol violation; closing connection');
      else this.log.error({ err: e }, 'session failed');
    }
    this.log.info(
      { export: this.exp.name, how, requests: this.requests, bytesSent: this.bytesSent, seconds: (Date.now() - started) / 1000 },
      'client session ended',
    );
    if (how === 'violation') this.socket.destroy();
    else this.end();
  }

  /** Graceful stop: a session idle or still receiving a request closes now, one answering after its reply. */
  shutdown(): void {
    this.stopping = true;
    if (!this.busy || this.stalled !== undefined) this.reader.abort();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async serve(): Promise<SessionEnd> {
    for (;;) {
      if (this.stopping) return 'shutdown';
      let code: bigint;
      try {
        code = Code.read(await this.reader.read(Code.size)).code;
      } catch (e) {
        if (!(e instanceof TruncatedError)) throw e;
        if (this.stopping) return 'shutdown';
        if (e.got === 0) return 'eof';
        throw new ProtocolViolation(`connection ended ${e.got} bytes into a request code`);
      }
      if (code === RequestCode.CLOSE) return 'close';
      this.busy = true;
      this.requests++;
      this.stalled = setTimeout(() => {
        this.log.warn(
          { code: code.toString(), timeoutMs: this.limits.requestTimeoutMs },
          'request not received whole in time; closing connection',
        );
        this.socket.destroy();
      }, this.limits.requestTimeoutMs);
      try {
        await this.handle(code);
      } finally {
        this.received();
        this.busy = false;
      }
    }
  }

  private async handle(code: bigint): Promise<void> {
    switch (code) {
      case RequestCode.INFO:
        return this.send([
          InfoResponse.write({ fileSize: BigInt(this.exp.source.size), reqAlignment: REQUIRED_ALIGNMENT, flags: InfoFlag.RO }),
        ]);
      case RequestCode.READ:
        return this.read();
      case RequestCode.WRITE: {
        const req = await this.fixed(RangeRequest);
        await this.consume(req.length, this.limits.maxPayload, 'WRITE');
        this.log.debug({ offset: req.offset.toString(), length: req.length.toString() }, 'write refused: the export is read-only');
        return this.send([LengthResponse.write({ errorno: Errno.EBADF, length: 0n })]);
      }
      case RequestCode.CONNECT: {
        const req = await this.fixed(ConnectRequest);
        if (req.length > BigInt(this.limits.maxConnectText))
          throw new ProtocolViolation(`CONNECT text of ${req.length} bytes is over the maximum ${this.limits.maxConnectText}`);
        const text = (await this.exact(Number(req.length))).toString('utf16le');
        // Each listener exports one disk, so there is nothing for a CONNECT text to select.
        this.log.warn(
          { text, flags: req.flags.toString() },
          'CONNECT refused: this listener exports one disk; give ImDisk/AIM "host:port" (no "://") as the -f text',
        );
        return this.send([ConnectResponse.write({ errorCode: Errno.ENODEV, objectPtr: 0n })]);
      }
      case RequestCode.UNMAP:
      case RequestCode.ZERO: {
        const req = await this.fixed(RangesRequest);
        await this.consume(req.length, this.limits.maxRangeList, codeNames.get(code)!);
        this.log.debug({ request: codeNames.get(code), length: req.length.toString() }, 'refused: the export is read-only');
        return this.send([ErrnoResponse.write({ errorno: Errno.EBADF })]);
      }
      case RequestCode.SCSI: {
        const req = await this.fixed(ScsiRequest);
        await this.consume(req.requestLength, this.limits.maxPayload, 'SCSI');
        this.log.debug('SCSI refused: not supported (INFO does not offer it)');
        return this.send([LengthResponse.write({ errorno: Errno.ENODEV, length: 0n })]);
      }
      case RequestCode.SHARED:
        await this.fixed(SharedRequest);
        this.log.debug('SHARED refused: not supported (INFO does not offer it)');
        return this.send([
          SharedResponse.write({
            errorno: Errno.ENODEV,
            uniqueId: Buffer.alloc(16),
            channelKey: 0n,
            reservationKey: 0n,
            reservationScope: 0n,
            reservationType: 0n,
            length: 0n,
          }),
        ]);
      default: {
        // As devio does: one u64 ENODEV. NULL (0) has no defined answer, so it is unknown too.
        const entry = { code: code.toString() };
        if (!this.warnedUnknown)
          this.log.warn(entry, 'unknown request code answered ENODEV (further ones on this connection are logged at debug)');
        else this.log.debug(entry, 'unknown request code answered ENODEV');
        this.warnedUnknown = true;
        return this.send([ErrnoResponse.write({ errorno: Errno.ENODEV })]);
      }
    }
  }

  private async read(): Promise<void> {
    const req = await this.fixed(RangeRequest);
    // Received whole: a slow source read is not the client's stall.
    this.received();
    if (req.length > BigInt(this.limits.maxRead)) {
      this.log.debug(
        { offset: req.offset.toString(), length: req.length.toString() },
        `READ over the maximum ${this.limits.maxRead} answered EINVAL`,
      );
      return this.send([LengthResponse.write({ errorno: Errno.EINVAL, length: 0n })]);
    }
    const length = Number(req.length);
    // Past the end the reply is zero-padded to the full length, as devio answers. Over TCP the
    // driver asks for a whole IRP in one READ, so a long one is sent piece by piece: one piece in
    // memory at a time, each read only once the kernel has taken the last.
    let first: Buffer[];
    try {
      first = await this.piece(req.offset, Math.min(length, this.limits.readPiece));
    } catch (e) {
      // A source failure (corrupt slab, I/O error) fails this request; the session goes on.
      this.log.error(
        { err: isDiskarcError(e) ? e.message : e, offset: req.offset.toString(), length },
        'read from source failed; answered EIO',
      );
      return this.send([LengthResponse.write({ errorno: Errno.EIO, length: 0n })]);
    }
    await this.send([LengthResponse.write({ errorno: 0n, length: req.length }), ...first]);
    for (let done = this.limits.readPiece; done < length && !this.socket.destroyed; done += this.limits.readPiece) {
      const at = req.offset + BigInt(done);
      let data: Buffer[];
      try {
        data = await this.piece(at, Math.min(length - done, this.limits.readPiece));
      } catch (e) {
        // The reply's header already promised the bytes: the only honest answer left is to hang up.
        this.log.error(
          { err: isDiskarcError(e) ? e.message : e, offset: at.toString(), length },
          'read from source failed part-way through a long reply; closing connection',
        );
        this.socket.destroy();
        return;
      }
      await this.send(data);
    }
  }

  /** Bytes [offset, offset+length) of the export, zeros past its end; holds its share of the server's budget until sent. */
  private async piece(offset: bigint, length: number): Promise<Buffer[]> {
    const size = BigInt(this.exp.source.size);
    const inside = offset >= size ? 0 : Math.min(length, Number(size - offset));
    const granted = await this.budget.acquire(length);
    this.pieceGrant += granted;
    try {
      const data = inside > 0 ? await readParts(this.exp.source, Number(offset), inside) : [];
      for (let left = length - inside; left > 0; left -= ZEROS.length) data.push(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
      return data;
    } catch (e) {
      this.releasePiece();
      throw e;
    }
  }

  /** Returns the budget of the piece just sent (or failed). */
  private releasePiece(): void {
    this.budget.release(this.pieceGrant);
    this.pieceGrant = 0;
  }

  /** The request has arrived whole: from here on the session is answering it. */
  private received(): void {
    clearTimeout(this.stalled);
    this.stalled = undefined;
  }

  /** Reads the rest of a request's fixed part; a client leaving inside it broke the protocol. */
  private async fixed<T>(layout: { size: number; read(buf: Buffer): T }): Promise<T> {
    return layout.read(await this.exact(layout.size));
  }

  private async exact(n: number): Promise<Buffer> {
    try {
      return await this.reader.read(n);
    } catch (e) {
      if (e instanceof TruncatedError) throw new ProtocolViolation(`connection ended inside a request (${e.got} of ${e.wanted} bytes)`);
      throw e;
    }
  }

  /** Discards a payload we refuse, streaming (never buffered whole), so the session stays in step. */
  private async consume(length: bigint, max: number, what: string): Promise<void> {
    if (length > BigInt(max)) throw new ProtocolViolation(`${what} payload of ${length} bytes is over the maximum ${max}`);
    try {
      await this.reader.skip(Number(length));
    } catch (e) {
      if (e instanceof TruncatedError) throw new ProtocolViolation(`connection ended inside a ${what} payload`);
      throw e;
    }
  }

  /** Writes one reply whole, then waits until the kernel has taken it: one reply in memory per connection. */
  private async send(parts: Buffer[]): Promise<void> {
    this.received();
    if (this.socket.destroyed || !this.socket.writable) return this.releasePiece();
    this.socket.cork();
    for (const p of parts) {
      this.socket.write(p);
      this.bytesSent += p.length;
    }
    this.socket.uncork();
    if (!this.socket.writableNeedDrain) return this.releasePiece();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
    this.releasePiece();
  }

  private end(): void {
    if (!this.socket.destroyed) this.socket.end();
    // A client that never closes its side must not keep the socket open forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}
