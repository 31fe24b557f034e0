// An IMDPROXY client written from the layouts in docs/proxy.md (ImDisk's inc/imdproxy.h: every
// field a little-endian u64, structures sent raw), independently of the server's wire tables, so
// the tests check the server against the documented protocol rather than against itself. It also
// sends what the driver never would (garbage, truncated or oversized requests) and reads raw.
import { connect, type Socket } from 'node:net';

export const REQ = { NULL: 0, INFO: 1, READ: 2, WRITE: 3, CONNECT: 4, CLOSE: 5, UNMAP: 6, ZERO: 7, SCSI: 8, SHARED: 9 } as const;
export const FLAG_RO = 1n;
export const ENODEV = 19n;
export const EBADF = 9n;

export type Target = { port: number; host?: string } | { path: string };

/** u64 little-endian fields, in order. */
export function u64s(...values: Array<number | bigint>): Buffer {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => {
    b.writeBigUInt64LE(BigInt(v), 8 * i);
  });
  return b;
}

export class ProxyClient {
  private chunks: Buffer[] = [];
  private total = 0;
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;

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

  static connect(target: Target): Promise<ProxyClient> {
    return new Promise((resolve, reject) => {
      const s = 'path' in target ? connect(target.path) : connect({ host: target.host ?? '127.0.0.1', port: target.port });
      s.once('connect', () => {
        s.setNoDelay(true);
        resolve(new ProxyClient(s));
      });
      s.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  send(...parts: Buffer[]): void {
    for (const p of parts) this.socket.write(p);
  }

  /** Exactly n bytes, or an error if the server closes first. */
  async recv(n: number): Promise<Buffer> {
    while (this.total < n) {
      if (this.ended) throw new Error(`connection closed with ${this.total} of ${n} bytes received`);
      await new Promise<void>((r) => (this.waiter = r));
    }
    this.total -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first!.length >= n) {
      // Within one received chunk: a view, no copy.
      if (first!.length === n) this.chunks.shift();
      else this.chunks[0] = first!.subarray(n);
      return first!.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }

  /** Discards exactly n received bytes without assembling them (benchmarks count, not compare). */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.total === 0) {
        if (this.ended) throw new Error(`connection closed with ${n - left} of ${n} bytes received`);
        await new Promise<void>((r) => (this.waiter = r));
        continue;
      }
      const c = this.chunks[0]!;
      const k = Math.min(c.length, left);
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
      this.total -= k;
      left -= k;
    }
  }

  /** A READ whose data is discarded: resolves with {errorno, length}. */
  async readDiscarding(offset: number, length: number): Promise<{ errorno: bigint; length: number }> {
    this.send(u64s(REQ.READ, offset, length));
    const h = await this.recv(16);
    const n = Number(h.readBigUInt64LE(8));
    if (n > length) throw new Error(`reply of ${n} bytes to a ${length}-byte read`);
    await this.skip(n);
    return { errorno: h.readBigUInt64LE(0), length: n };
  }

  async u64(): Promise<bigint> {
    return (await this.recv(8)).readBigUInt64LE(0);
  }

  /** Bytes already received and not consumed. */
  get pending(): number {
    return this.total;
  }

  async info(): Promise<{ size: bigint; alignment: bigint; flags: bigint }> {
    this.send(u64s(REQ.INFO));
    const r = await this.recv(24);
    return { size: r.readBigUInt64LE(0), alignment: r.readBigUInt64LE(8), flags: r.readBigUInt64LE(16) };
  }

  /** One READ request and its reply: {errorno, length}, then length data bytes. */
  async read(offset: number | bigint, length: number | bigint): Promise<{ errorno: bigint; data: Buffer }> {
    this.send(u64s(REQ.READ, offset, length));
    const h = await this.recv(16);
    const errorno = h.readBigUInt64LE(0);
    const n = h.readBigUInt64LE(8);
    if (n > BigInt(length)) throw new Error(`reply of ${n} bytes to a ${length}-byte read (fatal to the driver)`);
    return { errorno, data: await this.recv(Number(n)) };
  }

  /** As the driver reads: asks again for the rest after a short reply, stops at length 0 or an error. */
  async readLikeDriver(offset: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let done = 0;
    while (done < length) {
      const r = await this.read(offset + done, length - done);
      if (r.errorno !== 0n) throw new Error(`server error ${r.errorno} at ${offset + done}`);
      if (r.data.length === 0) break;
      parts.push(r.data);
      done += r.data.length;
    }
    return Buffer.concat(parts);
  }

  async write(offset: number, data: Buffer): Promise<{ errorno: bigint; length: bigint }> {
    this.send(u64s(REQ.WRITE, offset, data.length), data);
    const r = await this.recv(16);
    return { errorno: r.readBigUInt64LE(0), length: r.readBigUInt64LE(8) };
  }

  /** CONNECT with the text as the driver sends it (UTF-16LE, no terminator). */
  async connectRequest(text: string): Promise<{ errorCode: bigint; objectPtr: bigint }> {
    const t = Buffer.from(text, 'utf16le');
    this.send(u64s(REQ.CONNECT, 0, t.length), t);
    const r = await this.recv(16);
    return { errorCode: r.readBigUInt64LE(0), objectPtr: r.readBigUInt64LE(8) };
  }

  /** UNMAP or ZERO of {start, length} ranges; the reply is one errorno. */
  async ranges(code: 6 | 7, ranges: Array<[number, number]>): Promise<bigint> {
    this.send(u64s(code, ranges.length * 16), u64s(...ranges.flat()));
    return this.u64();
  }

  /** Sends CLOSE; resolves once the server has closed the connection. */
  async close(): Promise<void> {
    this.send(u64s(REQ.CLOSE));
    await this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
