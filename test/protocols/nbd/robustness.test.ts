// Protocol edge cases through a raw socket: option errors that keep the connection usable,
// invalid requests answered with EINVAL/EPERM, violations that close only the offending
// connection, fuzzed byte streams, pipelining with out-of-order replies, and backpressure.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSampleDisk } from '../../../src/sample-disk.js';
import { assembleRead, CMD, OPT, RawNbd, REP } from './raw-client.js';
import { prng, run, startServer, tempDir, writeOddImage, type TestServer } from './helpers.js';

let server: TestServer;
let sample: Buffer;
let odd: Buffer;
let cleanup: () => Promise<void>;
let dir: string;

test.before(async () => {
  const t = await tempDir('nbd-robust');
  dir = t.dir;
  cleanup = t.cleanup;
  await writeSampleDisk(join(dir, 'sample.img'), 32, 5);
  odd = await writeOddImage(join(dir, 'odd.bin'), 777_777, 9);
  sample = await readFile(join(dir, 'sample.img'));
  server = await startServer(dir, { images: [join(dir, 'sample.img'), join(dir, 'odd.bin')] });
});

test.after.always(async () => {
  await server?.stop();
  await cleanup?.();
});

const connect = () => RawNbd.connect({ path: server.socket });

test('handshake: fixed newstyle + NO_ZEROES; option errors leave the connection usable', async (t) => {
  const c = await connect();
  t.is(await c.greet(), 3);
  const unknown = await c.option(99, Buffer.from('junk'));
  t.is(unknown[0]!.type, REP.ERR_UNSUP);
  const listWithData = await c.option(OPT.LIST, Buffer.from('x'));
  t.is(listWithData[0]!.type, REP.ERR_INVALID);
  const list = await c.option(OPT.LIST);
  t.is(list[list.length - 1]!.type, REP.ACK);
  const names = list.filter((r) => r.type === REP.SERVER).map((r) => r.data.subarray(4, 4 + r.data.readUInt32BE(0)).toString());
  t.deepEqual(names, ['sample.img', 'image1', 'odd.bin', 'image2']);
  t.is((await c.option(OPT.GO, RawNbd.infoData('nope')))[0]!.type, REP.ERR_UNKNOWN);
  // No default export with two disks.
  t.is((await c.option(OPT.INFO, RawNbd.infoData('')))[0]!.type, REP.ERR_UNKNOWN);
  // Name length pointing past the data.
  const bad = RawNbd.infoData('odd.bin');
  bad.writeUInt32BE(5000, 0);
  t.is((await c.option(OPT.INFO, bad))[0]!.type, REP.ERR_INVALID);
  // Metadata contexts need structured replies first.
  t.is((await c.option(OPT.SET_META, RawNbd.metaData('odd.bin', ['base:allocation'])))[0]!.type, REP.ERR_INVALID);
  t.is((await c.option(OPT.STRUCTURED_REPLY))[0]!.type, REP.ACK);
  const listMeta = await c.option(OPT.LIST_META, RawNbd.metaData('odd.bin', ['base:']));
  t.is(listMeta[0]!.type, REP.META_CONTEXT);
  t.is(listMeta[0]!.data.subarray(4).toString(), 'base:allocation');
  const setMeta = await c.option(OPT.SET_META, RawNbd.metaData('odd.bin', ['base:allocation', 'qemu:dirty-bitmap:x']));
  t.deepEqual(
    setMeta.map((r) => r.type),
    [REP.META_CONTEXT, REP.ACK],
  );
  const go = await c.option(OPT.GO, RawNbd.infoData('odd.bin', [3]));
  t.is(go[go.length - 1]!.type, REP.ACK);
  const info = new Map(go.filter((r) => r.type === REP.INFO).map((r) => [r.data.readUInt16BE(0), r.data]));
  t.is(info.get(0)!.readBigUInt64BE(2), BigInt(odd.length));
  const flags = info.get(0)!.readUInt16BE(10);
  // HAS_FLAGS, READ_ONLY, SEND_FLUSH, SEND_DF, CAN_MULTI_CONN, SEND_CACHE
  t.is(flags, 0b101_1000_0111);
  t.deepEqual([info.get(3)!.readUInt32BE(2), info.get(3)!.readUInt32BE(6), info.get(3)!.readUInt32BE(10)], [1, 4096, 32 * 1024 * 1024]);
  c.request(CMD.READ, 1000, 5000, 1n);
  t.true(assembleRead(await c.structuredReply(1n), 1000, 5000).equals(odd.subarray(1000, 6000)));
  c.request(CMD.DISC, 0, 0, 2n);
  await c.closed;
});

test('EXPORT_NAME: reply with or without the 124 zero bytes; an unknown name closes the connection', async (t) => {
  for (const clientFlags of [1, 3]) {
    const c = await connect();
    await c.greet(clientFlags);
    c.sendOption(OPT.EXPORT_NAME, Buffer.from('odd.bin'));
    const r = await c.read(10 + (clientFlags === 3 ? 0 : 124));
    t.is(r.readBigUInt64BE(0), BigInt(odd.length));
    c.request(CMD.READ, 0, 16, 7n);
    const reply = await c.reply();
    t.true(reply.kind === 'simple' && reply.error === 0 && reply.data!.equals(odd.subarray(0, 16)));
    c.destroy();
  }
  const c = await connect();
  await c.greet();
  c.sendOption(OPT.EXPORT_NAME, Buffer.from('missing'));
  await c.closed;
  t.true(c.isClosed);
});

test('ABORT is acknowledged; handshake violations close only that connection', async (t) => {
  const a = await connect();
  await a.greet();
  t.is((await a.option(OPT.ABORT))[0]!.type, REP.ACK);
  await a.closed;

  const badFlags = await connect();
  await badFlags.greet(0x80);
  await badFlags.closed;

  const badMagic = await connect();
  await badMagic.greet();
  badMagic.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await badMagic.closed;

  const huge = await connect();
  await huge.greet();
  const h = Buffer.alloc(16);
  h.writeBigUInt64BE(0x49484156454f5054n, 0);
  h.writeUInt32BE(OPT.LIST, 8);
  h.writeUInt32BE(0x40000000, 12);
  huge.send(h);
  await huge.closed;
  t.pass();
});

test('invalid requests get EINVAL / EPERM and the connection carries on (structured and simple replies)', async (t) => {
  for (const structured of [true, false]) {
    const c = await connect();
    await c.open('odd.bin', { structured });
    const size = odd.length;
    const cases: Array<[string, number, number | bigint, number, number, number]> = [
      ['past the end', CMD.READ, size - 10, 11, 0, 22],
      ['zero length', CMD.READ, 0, 0, 0, 22],
      ['over the maximum payload', CMD.READ, 0, 32 * 1024 * 1024 + 1, 0, 22],
      ['offset beyond 2^53', CMD.READ, 1n << 62n, 512, 0, 22],
      ['unknown command', 42, 0, 512, 0, 22],
      ['unknown flag', CMD.READ, 0, 512, 1 << 9, 22],
      ['trim', CMD.TRIM, 0, 512, 0, 1],
      ['write zeroes', CMD.WRITE_ZEROES, 0, 512, 0, 1],
      ['cache past the end', CMD.CACHE, size, 1, 0, 22],
      ['block status without a context', CMD.BLOCK_STATUS, 0, 512, 0, 22],
    ];
    let cookie = 100n;
    for (const [what, type, offset, length, flags, errno] of cases) {
      c.request(type, offset, length, ++cookie, flags);
      const r = await c.reply();
      const got = r.kind === 'simple' ? r.error : r.type === 0x8001 && r.flags & 1 ? r.payload.readUInt32BE(0) : -1;
      t.is(got, errno, `${what} (structured=${structured})`);
      if (structured && type === CMD.READ) t.is(r.kind, 'chunk', 'READ errors must be structured once negotiated');
    }
    // A WRITE's payload is consumed, so the stream stays in sync.
    c.request(CMD.WRITE, 0, 4096, ++cookie);
    c.send(Buffer.alloc(4096, 0x55));
    const w = await c.reply();
    t.is(w.kind === 'simple' ? w.error : w.payload.readUInt32BE(0), 1, 'write → EPERM');
    c.request(CMD.FLUSH, 0, 0, ++cookie);
    const f = await c.reply();
    t.true(f.kind === 'simple' && f.error === 0, 'flush succeeds');
    c.request(CMD.CACHE, 0, size, ++cookie);
    const ca = await c.reply();
    t.true(ca.kind === 'simple' && ca.error === 0, 'cache succeeds');
    c.request(CMD.READ, size - 100, 100, ++cookie);
    let data: Buffer | undefined;
    if (structured) data = assembleRead(await c.structuredReply(cookie), size - 100, 100);
    else {
      const r = await c.reply();
      data = r.kind === 'simple' && r.error === 0 ? r.data : undefined;
    }
    t.true(data?.equals(odd.subarray(size - 100)), 'a good read after the errors');
    c.destroy();
  }
});

test('structured READ: holes come as OFFSET_HOLE chunks, DF forces one data chunk, BLOCK_STATUS maps them', async (t) => {
  const c = await connect();
  await c.open('sample.img', { blockStatus: true });
  // The sample layout (32 MiB): region unit u = 1 MiB, p1 at 1 MiB; holes at 1+5u .. 1+7u MiB.
  const MiB = 1 << 20;
  const off = 5.5 * MiB;
  const len = 2 * MiB;
  c.request(CMD.READ, off, len, 1n);
  const chunks = await c.structuredReply(1n);
  t.true(
    chunks.some((x) => x.type === 2),
    'an OFFSET_HOLE chunk',
  );
  t.true(assembleRead(chunks, off, len).equals(sample.subarray(off, off + len)));
  c.request(CMD.READ, off, len, 2n, 1 << 2);
  const df = await c.structuredReply(2n);
  t.is(df.length, 1);
  t.is(df[0]!.type, 1);
  t.true(assembleRead(df, off, len).equals(sample.subarray(off, off + len)));
  c.request(CMD.BLOCK_STATUS, 0, 16 * MiB, 3n);
  const bs = await c.structuredReply(3n);
  t.is(bs.length, 1);
  t.is(bs[0]!.type, 5);
  const p = bs[0]!.payload;
  t.is(p.readUInt32BE(0), 1, 'context id from SET_META_CONTEXT');
  let sum = 0;
  const descs: Array<[number, number]> = [];
  for (let i = 4; i < p.length; i += 8) {
    descs.push([p.readUInt32BE(i), p.readUInt32BE(i + 4)]);
    sum += p.readUInt32BE(i);
  }
  t.is(sum, 16 * MiB);
  t.true(descs.some(([, f]) => f === 3) && descs.some(([, f]) => f === 0));
  c.request(CMD.BLOCK_STATUS, 0, 16 * MiB, 4n, 1 << 3);
  const one = (await c.structuredReply(4n))[0]!.payload;
  t.is(one.length, 12, 'REQ_ONE: exactly one descriptor');
  c.destroy();
});

test('pipelined requests all get their replies (possibly out of order) with the right data', async (t) => {
  const c = await connect();
  await c.open('sample.img');
  const rnd = prng(8 * 200, 77);
  const want = new Map<bigint, [number, number]>();
  for (let i = 0; i < 200; i++) {
    const len = 1 + (rnd.readUInt32LE(i * 8) % (256 * 1024));
    const off = rnd.readUInt32LE(i * 8 + 4) % (sample.length - len);
    want.set(BigInt(i + 1), [off, len]);
    c.request(CMD.READ, off, len, BigInt(i + 1));
  }
  const got = new Map<bigint, Array<{ type: number; payload: Buffer }>>();
  let done = 0;
  const order: bigint[] = [];
  while (done < 200) {
    const r = await c.reply();
    if (r.kind !== 'chunk') return t.fail('simple reply to a structured READ');
    const list = got.get(r.cookie) ?? [];
    list.push({ type: r.type, payload: r.payload });
    got.set(r.cookie, list);
    if (r.flags & 1) {
      done++;
      order.push(r.cookie);
    }
  }
  for (const [cookie, [off, len]] of want)
    t.true(assembleRead(got.get(cookie)!, off, len).equals(sample.subarray(off, off + len)), `cookie ${cookie}`);
  c.destroy();
});

test('a client that floods reads without reading replies is held back, not buffered (backpressure)', async (t) => {
  const c = await connect();
  await c.open('sample.img', { structured: false });
  const MiB = 1 << 20;
  const n = 400; // 400 MiB of replies requested
  // Stop reading at the socket level, as a stalled client would.
  c.socket.pause();
  for (let i = 0; i < n; i++) c.request(CMD.READ, (i % 31) * MiB, MiB, BigInt(i + 1));
  const nbd = server.proc.nbdServer!;
  let maxQueued = 0;
  let maxInFlight = 0;
  for (let k = 0; k < 30; k++) {
    await new Promise((r) => setTimeout(r, 50));
    for (const s of nbd.connectionStats()) {
      maxQueued = Math.max(maxQueued, s.queuedReplyBytes);
      maxInFlight = Math.max(maxInFlight, s.requestsInFlight);
    }
  }
  // The documented defaults (docs/nbd.md): 64 requests and 16 MiB of replies per connection.
  const maxPendingReplyBytes = 16 * MiB;
  const maxInFlightRequests = 64;
  t.true(maxQueued > 4 * MiB, `the flood did queue replies (${maxQueued} bytes)`);
  t.true(maxQueued <= maxPendingReplyBytes + 2 * MiB, `queued reply bytes stayed bounded: ${Math.round(maxQueued / MiB)} MiB`);
  t.true(maxInFlight <= maxInFlightRequests);
  c.socket.resume();
  // Everything is still answered once the client reads.
  const seen = new Set<bigint>();
  for (let i = 0; i < n; i++) {
    const r = await c.reply(20000);
    if (r.kind !== 'simple' || r.error !== 0) return t.fail(`reply ${i} failed`);
    const off = Number((r.cookie - 1n) % 31n) * MiB;
    if (i % 97 === 0) t.true(r.data!.equals(sample.subarray(off, off + MiB)));
    seen.add(r.cookie);
  }
  t.is(seen.size, n);
  c.destroy();
});

test('garbage, truncated and fuzzed input closes only the offending connections while nbdcopy keeps being served', async (t) => {
  const copy = run('nbdcopy', ['--requests=4', '--request-size=65536', server.unixUri('sample.img'), join(dir, 'fuzz-copy.img')], {
    timeoutMs: 120000,
  });
  // A valid session prefix (greeting answer, STRUCTURED_REPLY, GO odd.bin, a READ), then mutated.
  const good = (() => {
    const parts: Buffer[] = [];
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(3);
    parts.push(flags);
    const opt = (o: number, d: Buffer) => {
      const h = Buffer.alloc(16);
      h.writeBigUInt64BE(0x49484156454f5054n, 0);
      h.writeUInt32BE(o, 8);
      h.writeUInt32BE(d.length, 12);
      parts.push(h, d);
    };
    opt(OPT.STRUCTURED_REPLY, Buffer.alloc(0));
    opt(OPT.GO, RawNbd.infoData('odd.bin'));
    const r = Buffer.alloc(28);
    r.writeUInt32BE(0x25609513, 0);
    r.writeBigUInt64BE(1n, 8);
    r.writeUInt32BE(4096, 24);
    parts.push(r, r, r);
    return Buffer.concat(parts);
  })();
  const rnd = prng(4 * 1000, 2024);
  const sessions: Array<Promise<void>> = [];
  for (let i = 0; i < 120; i++) {
    sessions.push(
      (async () => {
        const c = await connect();
        await c.read(18);
        let bytes: Buffer;
        const k = rnd.readUInt32LE(i * 4);
        if (i % 3 === 0)
          bytes = prng(1 + (k % 600), k); // pure noise
        else {
          bytes = Buffer.from(good);
          for (let m = 0; m < 1 + (k % 4); m++) bytes[(k >>> (m * 3)) % bytes.length] ^= 1 << (m % 8);
          if (i % 3 === 2) bytes = bytes.subarray(0, k % bytes.length); // truncated
        }
        c.send(bytes);
        if (i % 2 === 0) c.socket.end();
        // The server must close, or keep serving validly; never hang the test: give it 1.5 s.
        await Promise.race([c.closed, new Promise((r) => setTimeout(r, 1500))]);
        c.destroy();
      })(),
    );
  }
  // Truncated transmission header and bad request magic on otherwise good sessions.
  const trunc = await connect();
  await trunc.open('odd.bin');
  trunc.send(Buffer.from([0x25, 0x60, 0x95, 0x13, 0, 0, 0, 0]));
  trunc.socket.end();
  const garbage = await connect();
  await garbage.open('odd.bin');
  garbage.send(Buffer.alloc(28, 0xee));
  await garbage.closed;
  await trunc.closed;
  await Promise.all(sessions);
  const r = await copy;
  t.is(r.code, 0, r.stderr);
  t.true((await readFile(join(dir, 'fuzz-copy.img'))).equals(sample), 'the well-behaved client got exact data');
  // And the server still answers new clients.
  const after = await run('nbdinfo', ['--size', server.unixUri('odd.bin')]);
  t.is(after.stdout.trim(), String(odd.length));
});

test('extended headers: 32-byte requests, extended replies echoing the offset, BLOCK_STATUS_EXT, payload handling', async (t) => {
  const c = await connect();
  const { flags } = await c.open('sample.img', { extended: true, blockStatus: true });
  t.true((flags & (1 << 7)) !== 0, 'SEND_DF with extended headers');
  const MiB = 1 << 20;
  const off = 5.5 * MiB;
  const len = 2 * MiB;
  c.request(CMD.READ, off, len, 1n);
  const chunks: Array<{ type: number; payload: Buffer }> = [];
  for (;;) {
    const r = await c.reply();
    if (r.kind !== 'chunk' || !r.extended) return t.fail('expected an extended reply');
    t.is(r.cookie, 1n);
    t.is(r.offset, BigInt(off), 'the request offset is echoed');
    chunks.push({ type: r.type, payload: r.payload });
    if (r.flags & 1) break;
  }
  t.true(
    chunks.some((x) => x.type === 2),
    'holes still come as OFFSET_HOLE',
  );
  t.true(assembleRead(chunks, off, len).equals(sample.subarray(off, off + len)));

  c.request(CMD.BLOCK_STATUS, 0, 16 * MiB, 2n);
  const bs = await c.reply();
  t.true(bs.kind === 'chunk' && bs.type === 6 && (bs.flags & 1) === 1, 'one NBD_REPLY_TYPE_BLOCK_STATUS_EXT chunk');
  if (bs.kind === 'chunk') {
    t.is(bs.payload.readUInt32BE(0), 1);
    const count = bs.payload.readUInt32BE(4);
    t.is(bs.payload.length, 8 + 16 * count);
    let sum = 0n;
    for (let i = 0; i < count; i++) sum += bs.payload.readBigUInt64BE(8 + 16 * i);
    t.is(sum, BigInt(16 * MiB));
  }

  // Success without payload is an extended NONE chunk, never a simple reply.
  c.request(CMD.FLUSH, 0, 0, 3n);
  const f = await c.reply();
  t.true(f.kind === 'chunk' && f.type === 0 && (f.flags & 1) === 1 && f.payload.length === 0);

  // WRITE carries PAYLOAD_LEN: consumed, EPERM. A READ with an unexpected payload: consumed, EINVAL.
  c.request(CMD.WRITE, 0, 512, 4n, 1 << 5);
  c.send(Buffer.alloc(512, 1));
  const w = await c.reply();
  t.true(w.kind === 'chunk' && w.type === 0x8001 && w.payload.readUInt32BE(0) === 1);
  c.request(CMD.READ, 0, 4, 5n, 1 << 5);
  c.send(Buffer.from('junk'));
  const e = await c.reply();
  t.true(e.kind === 'chunk' && e.type === 0x8001 && e.payload.readUInt32BE(0) === 22);
  // A 64-bit effect length past the export is EINVAL; the stream is still in sync afterwards.
  c.request(CMD.BLOCK_STATUS, 0, 1n << 40n, 6n);
  const big = await c.reply();
  t.true(big.kind === 'chunk' && big.type === 0x8001 && big.payload.readUInt32BE(0) === 22);
  c.request(CMD.READ, 100, 50, 7n);
  const last = await c.reply();
  t.true(last.kind === 'chunk' && last.type === 1 && last.payload.subarray(8).equals(sample.subarray(100, 150)));
  // A payload over the maximum is a denial of service: hard disconnect.
  c.request(CMD.WRITE, 0, 64 * MiB, 8n, 1 << 5);
  await c.closed;
  t.true(c.isClosed);
});

test('Unix-socket connections get a send buffer of 4 MiB (or net.core.wmem_max), seen by ss', async (t) => {
  const c = await connect();
  t.is(await c.greet(), 3);
  const wmemMax = Number((await readFile('/proc/sys/net/core/wmem_max', 'utf8')).trim());
  const want = Math.min(4 * 1024 * 1024, wmemMax);
  // The server's end is the socket whose local address is the listening path.
  const out = (await run('ss', ['-x', '-m', '-n', 'state', 'established'])).stdout.split('\n');
  const at = out.findIndex((l) => l.includes(` ${server.socket} `));
  t.true(at >= 0, `server end of the connection listed by ss:\n${out.join('\n')}`);
  const tb = /tb(\d+)/.exec(out.slice(at, at + 2).join(' '));
  t.truthy(tb);
  // The kernel doubles what SO_SNDBUF asks for (bookkeeping overhead).
  t.true(Number(tb![1]) >= want, `sndbuf ${tb![1]} ≥ ${want}`);
  c.destroy();
});
