// A deliberately small NBD client over a raw socket, written from doc/proto.md independently of
// the server's wire tables, so tests can send what real clients never would (bad magic, truncated
// headers, oversized lengths, pipelined floods) and inspect replies byte by byte.
import { connect, type Socket } from 'node:net';

export const OPT = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META: 9,
  SET_META: 10,
  EXTENDED_HEADERS: 11,
} as const;
export const REP = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: 0x80000001,
  ERR_INVALID: 0x80000003,
  ERR_UNKNOWN: 0x80000006,
} as const;
export const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;

export type Reply =
  | { kind: 'simple'; error: number; cookie: bigint; data?: Buffer }
  | { kind: 'chunk'; flags: number; type: number; cookie: bigint; payload: Buffer; extended?: boolean; offset?: bigint };

export class RawNbd {
  private chunks: Buffer[] = [];
  private total = 0;
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;
  /** For simple replies: how many data bytes follow a successful reply, by cookie. */
  readonly readLengths = new Map<bigint, number>();
  /** Send 32-byte extended request headers (after NBD_OPT_EXTENDED_HEADERS). */
  extended = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.total += d.length;
      this.wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(target: { path: string } | { port: number }): Promise<RawNbd> {
    return new Promise((resolve, reject) => {
      const s = 'path' in target ? connect(target.path) : connect(target.port, '127.0.0.1');
      s.once('connect', () => resolve(new RawNbd(s)));
      s.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Reads exactly n bytes; rejects if the server closes first or nothing arrives within timeoutMs. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.total < n) {
      if (this.ended) throw new Error(`server closed the connection (wanted ${n} bytes, had ${this.total})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    // Join only as many chunks as this message needs.
    let have = 0;
    let k = 0;
    while (have < n) have += this.chunks[k++]!.length;
    const joined = k === 1 ? this.chunks[0]! : Buffer.concat(this.chunks.slice(0, k));
    this.chunks.splice(0, k, ...(joined.length > n ? [joined.subarray(n)] : []));
    this.total -= n;
    return joined.subarray(0, n);
  }

  send(b: Buffer): void {
    this.socket.write(b);
  }

  /** Reads the greeting and answers with client flags; returns the handshake flags. */
  async greet(clientFlags = 3): Promise<number> {
    const g = await this.read(18);
    if (g.readBigUInt64BE(0) !== 0x4e42444d41474943n || g.readBigUInt64BE(8) !== 0x49484156454f5054n) throw new Error('bad greeting');
    const f = Buffer.alloc(4);
    f.writeUInt32BE(clientFlags);
    this.send(f);
    return g.readUInt16BE(16);
  }

  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(16);
    h.writeBigUInt64BE(0x49484156454f5054n, 0);
    h.writeUInt32BE(option, 8);
    h.writeUInt32BE(data.length, 12);
    this.send(Buffer.concat([h, data]));
  }

  async optionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const h = await this.read(20);
    if (h.readBigUInt64BE(0) !== 0x0003e889045565a9n) throw new Error('bad option reply magic');
    const length = h.readUInt32BE(16);
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data: await this.read(length) };
  }

  /** Sends an option and collects replies up to the final one (ACK or an error). */
  async option(option: number, data?: Buffer): Promise<Array<{ type: number; data: Buffer }>> {
    this.sendOption(option, data);
    const out: Array<{ type: number; data: Buffer }> = [];
    for (;;) {
      const r = await this.optionReply();
      if (r.option !== option) throw new Error(`reply for option ${r.option}, expected ${option}`);
      out.push(r);
      if (r.type === REP.ACK || r.type >= 0x80000000) return out;
    }
  }

  static infoData(name: string, requests: number[] = []): Buffer {
    const n = Buffer.from(name);
    const b = Buffer.alloc(4 + n.length + 2 + 2 * requests.length);
    b.writeUInt32BE(n.length, 0);
    n.copy(b, 4);
    b.writeUInt16BE(requests.length, 4 + n.length);
    requests.forEach((r, i) => {
      b.writeUInt16BE(r, 6 + n.length + 2 * i);
    });
    return b;
  }

  static metaData(name: string, queries: string[]): Buffer {
    const parts: Buffer[] = [];
    const n = Buffer.from(name);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(n.length);
    parts.push(h, n);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(queries.length);
    parts.push(c);
    for (const q of queries) {
      const qb = Buffer.from(q);
      const l = Buffer.alloc(4);
      l.writeUInt32BE(qb.length);
      parts.push(l, qb);
    }
    return Buffer.concat(parts);
  }

  /** Full handshake to transmission; returns export size and transmission flags. */
  async open(
    name: string,
    opts: { structured?: boolean; blockStatus?: boolean; extended?: boolean } = {},
  ): Promise<{ size: bigint; flags: number }> {
    await this.greet();
    if (opts.extended) {
      const r = await this.option(OPT.EXTENDED_HEADERS);
      if (r[0]!.type !== REP.ACK) throw new Error('extended headers refused');
      this.extended = true;
      if (opts.blockStatus) await this.option(OPT.SET_META, RawNbd.metaData(name, ['base:allocation']));
    } else if (opts.structured !== false) {
      const r = await this.option(OPT.STRUCTURED_REPLY);
      if (r[0]!.type !== REP.ACK) throw new Error('structured replies refused');
      if (opts.blockStatus) await this.option(OPT.SET_META, RawNbd.metaData(name, ['base:allocation']));
    }
    const replies = await this.option(OPT.GO, RawNbd.infoData(name));
    const last = replies[replies.length - 1]!;
    if (last.type !== REP.ACK) throw new Error(`GO failed: 0x${last.type.toString(16)} ${last.data.toString()}`);
    const exp = replies.find((r) => r.type === REP.INFO && r.data.readUInt16BE(0) === 0)!;
    return { size: exp.data.readBigUInt64BE(2), flags: exp.data.readUInt16BE(10) };
  }

  request(type: number, offset: number | bigint, length: number | bigint, cookie: bigint, flags = 0): void {
    const b = Buffer.alloc(this.extended ? 32 : 28);
    b.writeUInt32BE(this.extended ? 0x21e41c71 : 0x25609513, 0);
    b.writeUInt16BE(flags, 4);
    b.writeUInt16BE(type, 6);
    b.writeBigUInt64BE(cookie, 8);
    b.writeBigUInt64BE(BigInt(offset), 16);
    if (this.extended) b.writeBigUInt64BE(BigInt(length), 24);
    else b.writeUInt32BE(Number(length), 24);
    length = Number(length);
    if (type === CMD.READ) this.readLengths.set(cookie, length);
    this.send(b);
  }

  /** Reads one reply message (a simple reply with its data, or one structured chunk). */
  async reply(timeoutMs = 5000): Promise<Reply> {
    const magic = (await this.read(4, timeoutMs)).readUInt32BE(0);
    if (magic === 0x67446698) {
      const h = await this.read(12, timeoutMs);
      const error = h.readUInt32BE(0);
      const cookie = h.readBigUInt64BE(4);
      const len = this.readLengths.get(cookie);
      this.readLengths.delete(cookie);
      const data = error === 0 && len !== undefined ? await this.read(len, timeoutMs) : undefined;
      return { kind: 'simple', error, cookie, data };
    }
    if (magic === 0x668e33ef) {
      const h = await this.read(16, timeoutMs);
      const length = h.readUInt32BE(12);
      return {
        kind: 'chunk',
        flags: h.readUInt16BE(0),
        type: h.readUInt16BE(2),
        cookie: h.readBigUInt64BE(4),
        payload: await this.read(length, timeoutMs),
      };
    }
    if (magic === 0x6e8a278c) {
      const h = await this.read(28, timeoutMs);
      const length = Number(h.readBigUInt64BE(20));
      return {
        kind: 'chunk',
        extended: true,
        flags: h.readUInt16BE(0),
        type: h.readUInt16BE(2),
        cookie: h.readBigUInt64BE(4),
        offset: h.readBigUInt64BE(12),
        payload: await this.read(length, timeoutMs),
      };
    }
    throw new Error(`bad reply magic 0x${magic.toString(16)}`);
  }

  /** Reads chunks of one structured reply until DONE; returns them (other cookies are an error). */
  async structuredReply(cookie: bigint): Promise<Array<{ type: number; payload: Buffer }>> {
    const out: Array<{ type: number; payload: Buffer }> = [];
    for (;;) {
      const r = await this.reply();
      if (r.kind !== 'chunk' || r.cookie !== cookie)
        throw new Error(`unexpected reply ${JSON.stringify({ kind: r.kind, cookie: String(r.cookie) })}`);
      out.push({ type: r.type, payload: r.payload });
      if (r.flags & 1) return out;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Reassembles a structured READ reply into bytes (holes as zeros); throws on error chunks. */
export function assembleRead(chunks: Array<{ type: number; payload: Buffer }>, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length, 0xaa);
  const covered = new Uint8Array(length);
  for (const c of chunks) {
    if (c.type === 1) {
      const o = Number(c.payload.readBigUInt64BE(0)) - offset;
      c.payload.copy(out, o, 8);
      covered.fill(1, o, o + c.payload.length - 8);
    } else if (c.type === 2) {
      const o = Number(c.payload.readBigUInt64BE(0)) - offset;
      const n = c.payload.readUInt32BE(8);
      out.fill(0, o, o + n);
      covered.fill(1, o, o + n);
    } else if (c.type >= 0x8000) {
      throw new Error(`error chunk ${c.payload.readUInt32BE(0)}: ${c.payload.subarray(6, 6 + c.payload.readUInt16BE(4)).toString()}`);
    }
  }
  if (covered.includes(0)) throw new Error('read reply does not cover the whole range');
  return out;
}
