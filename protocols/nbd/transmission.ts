// The transmission phase of one connection (doc/proto.md "Transmission", "Request types"):
// reads pipelined requests, runs them concurrently against the export's BlockSource and writes
// each reply as soon as it is ready (out of order). Admission is bounded per connection: with too
// many requests or reply bytes outstanding it stops reading the socket, so TCP pushes back.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { isDiskarcError } from '../../src/errors.js';
import {
  ChunkType,
  Command,
  CommandFlag,
  EXTENDED_REPLY_MAGIC,
  EXTENDED_REQUEST_MAGIC,
  NbdErrno,
  REQUEST_MAGIC,
  ReplyFlag,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_MAGIC,
} from './constants.js';
import { readParts, sliceParts } from '../../src/block/parts.js';
import { allocationDescriptors, planRead } from './extents.js';
import type { Negotiated } from './handshake.js';
import type { ByteBudget } from './byte-budget.js';
import type { NbdLimits } from './limits.js';
import { TruncatedError, type SocketReader } from './socket-reader.js';
import {
  BlockDescriptor,
  BlockDescriptorExt,
  BlockStatusExtPrefix,
  BlockStatusPrefix,
  ChunkHeader,
  ErrorChunkPrefix,
  ExtendedChunkHeader,
  ExtendedRequest,
  OffsetDataPrefix,
  OffsetHole,
  Request,
  SimpleReply,
} from './wire.js';

/**
 * Reply data are views of the source's cache, written to the socket as they are. A view much
 * smaller than the buffer behind it is copied instead: a queued reply holds what it views, and
 * the per-connection bound on queued reply bytes should bound memory too, within this factor.
 */
const MAX_PIN_RATIO = 8;

function unpinned(parts: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  // Neighbouring small views (a fragmented or deduplicated range) are copied together, in one allocation.
  let run: Buffer[] = [];
  const flush = () => {
    if (run.length > 0) out.push(Buffer.concat(run));
    run = [];
  };
  for (const p of parts) {
    if (p.length * MAX_PIN_RATIO < p.buffer.byteLength) run.push(p);
    else {
      flush();
      out.push(p);
    }
  }
  flush();
  return out;
}

interface Req {
  type: number;
  flags: number;
  cookie: bigint;
  /** The offset as sent, echoed in extended reply headers. */
  rawOffset: bigint;
  offset: number;
  length: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Out-of-range 64-bit values become MAX_SAFE_INTEGER, which every range check then rejects. */
const toNumber = (v: bigint | number): number => (typeof v === 'number' ? v : v <= MAX_SAFE ? Number(v) : Number.MAX_SAFE_INTEGER);

/** A request we answer with an error reply; the connection carries on. */
class RequestError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

const commandNames: Record<number, string> = Object.fromEntries(Object.entries(Command).map(([k, v]) => [v, k]));
/** Flags each command accepts. FUA is harmless on anything read-only, so it is tolerated everywhere. */
const allowedFlags: Record<number, number> = {
  [Command.READ]: CommandFlag.FUA | CommandFlag.DF,
  [Command.FLUSH]: CommandFlag.FUA,
  [Command.CACHE]: CommandFlag.FUA,
  [Command.BLOCK_STATUS]: CommandFlag.FUA | CommandFlag.REQ_ONE,
};

export type TransmissionEnd = 'disconnect' | 'closed' | 'violation' | 'shutdown';

export class Transmission {
  private inFlight = 0;
  private pendingBytes = 0;
  private stopping = false;
  private corked = false;
  private wakeAdmission: (() => void) | undefined;
  private wakeIdle: (() => void) | undefined;
  private readonly size: number;

  constructor(
    private readonly socket: Socket,
    private readonly reader: SocketReader,
    private readonly nego: Negotiated,
    private readonly limits: NbdLimits,
    private readonly log: Logger,
    private readonly budget: ByteBudget,
  ) {
    this.size = nego.export.source.size;
    socket.on('drain', () => this.wake());
    socket.on('close', () => this.wake());
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Reply bytes being produced plus those queued on the socket: what backpressure bounds. */
  get queuedReplyBytes(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  /** Stops reading new requests; in-flight ones still get their replies. */
  stop(): void {
    this.stopping = true;
    this.reader.abort();
    this.wake();
  }

  /** Serves requests until the client disconnects, breaks the protocol, or stop() is called. */
  async run(): Promise<TransmissionEnd> {
    let end: TransmissionEnd = 'closed';
    try {
      for (;;) {
        await this.admission();
        if (this.stopping) {
          end = 'shutdown';
          break;
        }
        const extended = this.nego.extendedHeaders;
        const h = extended
          ? ExtendedRequest.read(await this.reader.read(ExtendedRequest.size))
          : Request.read(await this.reader.read(Request.size));
        if (h.magic !== (extended ? EXTENDED_REQUEST_MAGIC : REQUEST_MAGIC)) {
          this.log.warn({ magic: h.magic.toString(16) }, 'bad request magic; closing connection');
          end = 'violation';
          break;
        }
        const req: Req = {
          type: h.type,
          flags: h.flags,
          cookie: h.cookie,
          rawOffset: h.offset,
          offset: toNumber(h.offset),
          length: toNumber(h.length),
        };
        if (req.type === Command.DISC) {
          end = 'disconnect';
          break;
        }
        // Which requests carry a payload: WRITE in compact mode, PAYLOAD_LEN ones with extended headers.
        const payload = extended
          ? (req.flags & CommandFlag.PAYLOAD_LEN) !== 0
            ? req.length
            : 0
          : req.type === Command.WRITE
            ? req.length
            : 0;
        if (payload > 0) {
          if (extended && payload > this.limits.maxPayload) {
            this.log.warn({ length: payload }, 'request payload over the maximum; closing connection');
            end = 'violation';
            break;
          }
          // Consume it (streaming, never buffered whole) to stay in sync; we never use one.
          await this.reader.skip(payload);
          const write = req.type === Command.WRITE;
          this.log.debug(
            { command: commandNames[req.type] ?? req.type, offset: req.offset, length: payload },
            write ? 'write refused' : 'unexpected payload',
          );
          this.sendError(req, write ? NbdErrno.EPERM : NbdErrno.EINVAL, write ? 'export is read-only' : 'this command takes no payload');
          continue;
        }
        const cost = req.type === Command.READ ? Math.min(req.length, this.limits.maxPayload) : 0;
        // Waiting here (not reading the next header) is what pushes back on this client.
        const granted = cost > 0 ? await this.budget.acquire(cost) : 0;
        this.dispatch(req, cost, granted);
      }
    } catch (e) {
      if (e instanceof TruncatedError) {
        if (this.stopping) end = 'shutdown';
        else if (e.got > 0) {
          this.log.warn({ got: e.got }, 'connection ended inside a request header');
          end = 'violation';
        }
      } else throw e;
    }
    await this.idle();
    return end;
  }

  private dispatch(req: Req, cost: number, granted: number): void {
    this.inFlight++;
    this.pendingBytes += cost;
    this.handle(req)
      .catch((e: unknown) => {
        // Errors are answered inside handle(); reaching here means the socket is unusable.
        this.log.error({ err: e, command: commandNames[req.type] }, 'request failed outside its reply');
        this.socket.destroy();
      })
      .finally(() => {
        this.budget.release(granted);
        this.inFlight--;
        this.pendingBytes -= cost;
        this.wake();
      });
  }

  private async handle(req: Req): Promise<void> {
    try {
      const allowed = allowedFlags[req.type] ?? CommandFlag.FUA;
      if ((req.flags & ~allowed) !== 0)
        throw new RequestError(NbdErrno.EINVAL, `flags 0x${req.flags.toString(16)} not valid for this command`);
      switch (req.type) {
        case Command.READ:
          return await this.read(req);
        case Command.BLOCK_STATUS:
          return await this.blockStatus(req);
        case Command.CACHE:
          this.checkRange(req);
          // Warming more than one maximal read at a time would only evict what the cache holds.
          await this.nego.export.source.prefetch?.(req.offset, Math.min(req.length, this.limits.maxPayload));
          return this.sendOk(req);
        case Command.FLUSH:
          return this.sendOk(req);
        case Command.WRITE:
        case Command.TRIM:
        case Command.WRITE_ZEROES:
          throw new RequestError(NbdErrno.EPERM, 'export is read-only');
        default:
          throw new RequestError(NbdErrno.EINVAL, `unknown command ${req.type}`);
      }
    } catch (e) {
      if (e instanceof RequestError) {
        this.log.debug({ command: commandNames[req.type] ?? req.type, offset: req.offset, length: req.length, errno: e.errno }, e.message);
        return this.sendError(req, e.errno, e.message);
      }
      // A source failure (corrupt slab, I/O error): report it to this request, keep serving others.
      this.log.error({ err: e, command: commandNames[req.type], offset: req.offset, length: req.length }, 'read from source failed');
      const msg = isDiskarcError(e) ? e.message : 'internal error reading the export';
      return this.sendError(req, NbdErrno.EIO, msg);
    }
  }

  private checkRange(req: Req): void {
    if (req.length === 0) throw new RequestError(NbdErrno.EINVAL, 'zero-length request');
    if (req.offset > this.size || req.length > this.size - req.offset) {
      throw new RequestError(NbdErrno.EINVAL, `range ${req.offset}+${req.length} is beyond the export size ${this.size}`);
    }
  }

  private async read(req: Req): Promise<void> {
    this.checkRange(req);
    if (req.length > this.limits.maxPayload) {
      throw new RequestError(NbdErrno.EINVAL, `read of ${req.length} bytes exceeds the maximum payload ${this.limits.maxPayload}`);
    }
    const source = this.nego.export.source;
    if (!this.nego.structuredReplies) {
      const data = await readParts(source, req.offset, req.length);
      this.send([SimpleReply.write({ magic: SIMPLE_REPLY_MAGIC, error: 0, cookie: req.cookie }), ...unpinned(data)]);
      return;
    }
    if (req.length <= this.limits.minHoleChunk) {
      // Too short to hold a hole worth its own chunk: skip the extent lookup (random 4 KiB reads).
      this.sendData(req, req.offset, await readParts(source, req.offset, req.length), true);
      return;
    }
    // One read of the whole range, alongside the extent lookup: data pieces are slices of it (no
    // second pass over the stream map), and zero runs in it are views of shared zeros.
    const [extents, data] = await Promise.all([source.extents(req.offset, req.length), readParts(source, req.offset, req.length)]);
    const pieces = planRead(extents, req.offset, req.length, this.limits.minHoleChunk);
    if ((req.flags & CommandFlag.DF) !== 0 && pieces.length > 1) {
      // Don't-fragment: one content chunk, zeros included inline.
      this.sendData(req, req.offset, data, true);
      return;
    }
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      const done = i === pieces.length - 1;
      if (p.zero) this.sendChunk(req, ChunkType.OFFSET_HOLE, done, [OffsetHole.write({ offset: BigInt(p.offset), size: p.length })]);
      else
        this.sendData(
          req,
          p.offset,
          pieces.length === 1 ? data : sliceParts(data, p.offset - req.offset, p.offset - req.offset + p.length),
          done,
        );
    }
  }

  private async blockStatus(req: Req): Promise<void> {
    const context = this.nego.allocationContext;
    if (!this.nego.structuredReplies || context === undefined) {
      throw new RequestError(NbdErrno.EINVAL, 'no metadata context was selected with NBD_OPT_SET_META_CONTEXT');
    }
    this.checkRange(req);
    const reqOne = (req.flags & CommandFlag.REQ_ONE) !== 0;
    const descriptors = allocationDescriptors(
      await this.nego.export.source.extents(req.offset, req.length),
      req.offset,
      req.length,
      reqOne,
    );
    if (this.nego.extendedHeaders) {
      const ext = Buffer.alloc(BlockStatusExtPrefix.size + descriptors.length * BlockDescriptorExt.size);
      BlockStatusExtPrefix.write({ contextId: context, count: descriptors.length }, ext);
      descriptors.forEach((d, i) => {
        const at = BlockStatusExtPrefix.size + i * BlockDescriptorExt.size;
        BlockDescriptorExt.write({ length: BigInt(d.length), flags: BigInt(d.flags) }, ext, at);
      });
      this.sendChunk(req, ChunkType.BLOCK_STATUS_EXT, true, [ext]);
      return;
    }
    const payload = Buffer.alloc(BlockStatusPrefix.size + descriptors.length * BlockDescriptor.size);
    BlockStatusPrefix.write({ contextId: context }, payload);
    descriptors.forEach((d, i) => {
      BlockDescriptor.write(d, payload, BlockStatusPrefix.size + i * BlockDescriptor.size);
    });
    this.sendChunk(req, ChunkType.BLOCK_STATUS, true, [payload]);
  }

  // --- replies ---

  private send(parts: Buffer[]): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    // One reply's buffers go out back to back (write() queues synchronously, so other replies can
    // only come between messages). Replies finished in the same event-loop turn share one writev:
    // the socket stays corked until the turn ends.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    for (const p of parts) this.socket.write(p);
  }

  private sendChunk(req: Req, type: number, done: boolean, payload: Buffer[]): void {
    const length = payload.reduce((n, b) => n + b.length, 0);
    const flags = done ? ReplyFlag.DONE : 0;
    const header = this.nego.extendedHeaders
      ? ExtendedChunkHeader.write({
          magic: EXTENDED_REPLY_MAGIC,
          flags,
          type,
          cookie: req.cookie,
          offset: req.rawOffset,
          length: BigInt(length),
        })
      : ChunkHeader.write({ magic: STRUCTURED_REPLY_MAGIC, flags, type, cookie: req.cookie, length });
    this.send([header, ...payload]);
  }

  private sendData(req: Req, offset: number, data: Buffer[], done: boolean): void {
    this.sendChunk(req, ChunkType.OFFSET_DATA, done, [OffsetDataPrefix.write({ offset: BigInt(offset) }), ...unpinned(data)]);
  }

  private sendOk(req: Req): void {
    // With extended headers every reply is an extended chunk, even an empty success.
    if (this.nego.extendedHeaders) {
      this.sendChunk(req, ChunkType.NONE, true, []);
      return;
    }
    this.send([SimpleReply.write({ magic: SIMPLE_REPLY_MAGIC, error: 0, cookie: req.cookie })]);
  }

  private sendError(req: Req, errno: number, message: string): void {
    if (this.nego.structuredReplies) {
      const msg = Buffer.from(message.slice(0, 1024), 'utf8');
      this.sendChunk(req, ChunkType.ERROR, true, [ErrorChunkPrefix.write({ error: errno, messageLength: msg.length }), msg]);
    } else {
      this.send([SimpleReply.write({ magic: SIMPLE_REPLY_MAGIC, error: errno, cookie: req.cookie })]);
    }
  }

  // --- admission and backpressure ---

  private canAdmit(): boolean {
    if (this.stopping || this.socket.destroyed) return true;
    if (this.inFlight >= this.limits.maxInFlightRequests) return false;
    return this.pendingBytes + this.socket.writableLength < this.limits.maxPendingReplyBytes;
  }

  private async admission(): Promise<void> {
    while (!this.canAdmit()) {
      await new Promise<void>((resolve) => {
        this.wakeAdmission = resolve;
      });
    }
  }

  private async idle(): Promise<void> {
    while (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.wakeIdle = resolve;
      });
    }
  }

  private wake(): void {
    const a = this.wakeAdmission;
    const b = this.wakeIdle;
    this.wakeAdmission = undefined;
    this.wakeIdle = undefined;
    a?.();
    b?.();
  }
}
