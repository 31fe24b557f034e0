// Hostile and broken clients: ≥ 10^4 fuzzed requests (each reply checked against the documented
// behaviour), garbage and truncated requests, oversized payloads — each closes at most its own
// connection while a parallel client keeps reading exact bytes; and SIGTERM in the middle of a read.
import test from 'ava';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../nbd/helpers.js';
import { EBADF, ENODEV, ProxyClient, REQ, u64s, type Target } from './client.js';
import { packProxyFixture, rng, serveChild, targetOf, type ProxyDisk, type ServeChild } from './fixture.js';

const MiB = 1024 * 1024;

let disk: ProxyDisk;
let archive: string;
let dir: string;
let served: ServeChild;
let target: Target;
let cleanup: () => Promise<void>;

test.before(async () => {
  const t = await tempDir('proxy-robust');
  dir = t.dir;
  cleanup = t.cleanup;
  ({ disk, archive } = await packProxyFixture(dir));
  served = await serveChild(['-a', archive, '--proxy', '127.0.0.1:0', '-s', 'disk', '--log-level', 'warn']);
  target = targetOf(served.listening[0]!);
});

test.after.always(async () => {
  await served?.stop();
  await cleanup?.();
});

/** Reads random ranges until `stop` resolves, checking each; returns how many it read. */
async function parallelReader(stop: Promise<void>): Promise<number> {
  const c = await ProxyClient.connect(target);
  const r = rng(99);
  let stopped = false;
  void stop.then(() => (stopped = true));
  let n = 0;
  while (!stopped) {
    const length = 4096 + Math.floor(r() * MiB);
    const offset = Math.floor(r() * (disk.data.length - length));
    const reply = await c.read(offset, length);
    if (reply.errorno !== 0n || !reply.data.equals(disk.data.subarray(offset, offset + length)))
      throw new Error(`parallel read ${n} at ${offset}+${length} wrong`);
    n++;
  }
  await c.close();
  return n;
}

type Expect =
  | { reply: 'info' }
  | { reply: 'read'; offset: bigint; length: number }
  | { reply: 'u64'; value: bigint }
  | { reply: 'len-error' } // {errorno ≠ 0, length 0}
  | { reply: 'connect-error' }
  | { reply: 'shared-error' }
  | { reply: 'closed' };

/** One random request the server must answer (or close on) as docs/proxy.md says. */
function fuzzRequest(r: () => number, size: number): { bytes: Buffer[]; expect: Expect; final?: boolean } {
  const u64 = (): bigint => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
  const pick = r();
  if (pick < 0.1) return { bytes: [u64s(REQ.INFO)], expect: { reply: 'info' } };
  if (pick < 0.45) {
    const length = Math.floor(r() * 65536);
    const where = r();
    const offset = where < 0.6 ? BigInt(Math.floor(r() * size)) : where < 0.8 ? BigInt(size - Math.floor(r() * 70000)) : u64();
    return {
      bytes: [u64s(REQ.READ, offset < 0n ? 0n : offset, length)],
      expect: { reply: 'read', offset: offset < 0n ? 0n : offset, length },
    };
  }
  if (pick < 0.5) return { bytes: [u64s(REQ.READ, u64(), (1n << 40n) + (u64() % (1n << 20n)))], expect: { reply: 'len-error' } };
  if (pick < 0.6) {
    const n = Math.floor(r() * 9000);
    return { bytes: [u64s(REQ.WRITE, u64(), n), Buffer.alloc(n, 0xee)], expect: { reply: 'len-error' } };
  }
  if (pick < 0.67) {
    const ranges = Math.floor(r() * 8);
    return {
      bytes: [u64s(r() < 0.5 ? REQ.UNMAP : REQ.ZERO, ranges * 16), Buffer.alloc(ranges * 16, 7)],
      expect: { reply: 'u64', value: EBADF },
    };
  }
  if (pick < 0.71) {
    const n = Math.floor(r() * 600);
    return { bytes: [u64s(REQ.SCSI), Buffer.alloc(16, 0x12), u64s(n, 256), Buffer.alloc(n)], expect: { reply: 'len-error' } };
  }
  if (pick < 0.74) return { bytes: [u64s(REQ.SHARED, u64(), u64(), u64(), u64(), u64(), u64())], expect: { reply: 'shared-error' } };
  if (pick < 0.77) {
    const text = Buffer.from(`//h${Math.floor(r() * 1e6)}:9000/x`, 'utf16le');
    return { bytes: [u64s(REQ.CONNECT, 0, text.length), text], expect: { reply: 'connect-error' } };
  }
  if (pick < 0.93) {
    let code = u64();
    if (r() < 0.3) code = BigInt(Math.floor(r() * 20));
    if (code >= 1n && code <= 9n) code = 0n;
    return { bytes: [u64s(code)], expect: { reply: 'u64', value: ENODEV } };
  }
  // The rest end the connection: CLOSE, or a payload over the documented maxima.
  const end = r();
  if (end < 0.4) return { bytes: [u64s(REQ.CLOSE)], expect: { reply: 'closed' }, final: true };
  if (end < 0.7) return { bytes: [u64s(REQ.WRITE, 0, (1n << 25n) + 1n + (u64() % (1n << 40n)))], expect: { reply: 'closed' }, final: true };
  if (end < 0.85) return { bytes: [u64s(REQ.CONNECT, 0, 4097n + (u64() % 100000n))], expect: { reply: 'closed' }, final: true };
  return { bytes: [u64s(REQ.UNMAP, (1n << 20n) + 1n + (u64() % (1n << 30n)))], expect: { reply: 'closed' }, final: true };
}

async function checkReply(c: ProxyClient, e: Expect, size: number, data: Buffer): Promise<void> {
  switch (e.reply) {
    case 'info': {
      const b = await c.recv(24);
      if (b.readBigUInt64LE(0) !== BigInt(size)) throw new Error('INFO size');
      return;
    }
    case 'read': {
      const h = await c.recv(16);
      if (h.readBigUInt64LE(0) !== 0n || h.readBigUInt64LE(8) !== BigInt(e.length))
        throw new Error(`READ header ${h.toString('hex')} for ${e.length}`);
      const got = await c.recv(e.length);
      const want = Buffer.alloc(e.length);
      if (e.offset < BigInt(size)) data.copy(want, 0, Number(e.offset), Math.min(size, Number(e.offset) + e.length));
      if (!got.equals(want)) throw new Error(`READ ${e.offset}+${e.length} data`);
      return;
    }
    case 'u64': {
      const v = await c.u64();
      if (v !== e.value) throw new Error(`expected ${e.value}, got ${v}`);
      return;
    }
    case 'len-error':
    case 'connect-error': {
      const h = await c.recv(16);
      if (h.readBigUInt64LE(0) === 0n || h.readBigUInt64LE(8) !== 0n) throw new Error(`${e.reply}: ${h.toString('hex')}`);
      return;
    }
    case 'shared-error': {
      const h = await c.recv(64);
      if (h.readBigUInt64LE(0) === 0n || h.readBigUInt64LE(56) !== 0n) throw new Error('SHARED');
      return;
    }
    case 'closed':
      await c.closed;
      if (c.pending !== 0) throw new Error(`${c.pending} stray bytes before the close`);
  }
}

test(
  '10^4 fuzzed requests get the documented replies or close only their connection; a parallel client ' + 'reads exact bytes throughout',
  async (t) => {
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const reader = parallelReader(stop);
    const r = rng(2024);
    let requests = 0;
    let closedByServer = 0;
    let connections = 0;
    const run = async (): Promise<void> => {
      const c = await ProxyClient.connect(target);
      const expects: Expect[] = [];
      for (let i = 0; i < 40; i++) {
        const q = fuzzRequest(r, disk.data.length);
        c.send(...q.bytes);
        expects.push(q.expect);
        requests++;
        if (q.final) break;
      }
      for (const e of expects) await checkReply(c, e, disk.data.length, disk.data);
      if (expects[expects.length - 1]!.reply === 'closed') closedByServer++;
      else await c.close();
    };
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (requests < 10_000) {
          connections++;
          await run();
        }
      }),
    );
    release();
    const parallel = await reader;
    t.true(requests >= 10_000, `${requests} requests`);
    t.true(closedByServer > 100, `${closedByServer} connections ended by CLOSE or an oversized request`);
    t.log(`${requests} fuzzed requests on ${connections} connections, ${closedByServer} ended by the server; ${parallel} parallel reads`);
    t.true(parallel > 10, `${parallel} parallel reads`);
  },
);

test('garbage, truncated requests and half-sent payloads close only their own connection', async (t) => {
  let release!: () => void;
  const reader = parallelReader(new Promise<void>((r) => (release = r)));
  const r = rng(5);
  const cases: Array<[string, Buffer]> = [
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['half a code', Buffer.from([2, 0, 0])],
    ['READ without its length', u64s(REQ.READ, 0)],
    ['WRITE missing data', Buffer.concat([u64s(REQ.WRITE, 0, 4096), Buffer.alloc(100)])],
    ['CONNECT cut in its text', Buffer.concat([u64s(REQ.CONNECT, 0, 40), Buffer.alloc(10)])],
    ['SCSI cut in its header', Buffer.concat([u64s(REQ.SCSI), Buffer.alloc(9)])],
  ];
  for (let i = 0; i < 60; i++) {
    const b = Buffer.alloc(1 + Math.floor(r() * 300));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(r() * 256);
    cases.push([`random ${i}`, b]);
  }
  for (const [name, bytes] of cases) {
    const c = await ProxyClient.connect(target);
    c.send(bytes);
    c.socket.end();
    // Whatever it answers first, the server must finish with this connection (no hang).
    const done = await Promise.race([c.closed.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 5000))]);
    t.true(done, `${name}: the server closed the connection`);
    c.destroy();
  }
  release();
  t.true((await reader) > 0);
  const c = await ProxyClient.connect(target);
  t.true((await c.read(12345, 100000)).data.equals(disk.data.subarray(12345, 112345)));
  await c.close();
});

test(
  'SIGTERM in the middle of reads: the reply being sent completes, a half-received request is dropped, ' + 'exit 0, socket file removed',
  async (t) => {
    const sock = join(dir, 'term.sock');
    const s = await serveChild(['-a', archive, '--proxy-socket', sock, '-s', 'disk', '--proxy', '127.0.0.1:0', '-s', 'disk:p2']);
    t.true(
      await access(sock).then(
        () => true,
        () => false,
      ),
    );
    const c = await ProxyClient.connect({ path: sock });
    let good = 0;
    let ended = '';
    const loop = (async () => {
      for (let i = 0; ; i++) {
        const offset = (i * 3 * MiB) % (disk.data.length - 8 * MiB);
        try {
          const reply = await c.read(offset, 8 * MiB);
          t.true(reply.data.equals(disk.data.subarray(offset, offset + 8 * MiB)), `read ${i}`);
          good++;
        } catch (e) {
          ended = (e as Error).message;
          return;
        }
      }
    })();
    // A second client stuck half-way through a request must not hold the shutdown up.
    const stuck = await ProxyClient.connect({ path: sock });
    stuck.send(u64s(REQ.WRITE, 0, 65536), Buffer.alloc(1000));
    while (good < 3) await new Promise((r) => setTimeout(r, 5));
    s.child.kill('SIGTERM');
    await loop;
    // The connection ends between replies: a reply cut part-way would show as bytes received.
    t.regex(ended, /closed with 0 of 16 bytes/);
    const exit = await s.exited;
    t.deepEqual(exit, { code: 0, signal: null });
    t.false(
      await access(sock).then(
        () => true,
        () => false,
      ),
      'socket file removed',
    );
    t.true(s.logs().some((l) => l.msg === 'stopped'));
    t.false(
      s.logs().some((l) => /grace period over/.test(String(l.msg))),
      'nothing had to be cut after the grace period',
    );
    await stuck.closed;
  },
);
