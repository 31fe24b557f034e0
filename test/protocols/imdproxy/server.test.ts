// The range proxy against a client written from the documented layouts: INFO, the driver's first
// read, ≥ 1000 random reads over TCP and over a Unix socket across slab and partition
// boundaries, partition and window exports, reads past the end, WRITE and the other refused
// requests (the session stays usable), CONNECT, CLOSE and EOF.
import test from 'ava';
import { join } from 'node:path';
import { tempDir } from '../nbd/helpers.js';
import { EBADF, ENODEV, FLAG_RO, ProxyClient, REQ, u64s, type Target } from './client.js';
import { packProxyFixture, rng, serveChild, SLAB, targetOf, type ProxyDisk, type ServeChild } from './fixture.js';

const MiB = 1024 * 1024;
const WINDOW = { offset: 1000, length: 3_000_001 };

let fx: { disk: ProxyDisk; other: Buffer };
let served: ServeChild;
let cleanup: () => Promise<void>;
let at: { disk: Target; unix: Target; p1: Target; p2: Target; window: Target; other: Target };

test.before(async () => {
  const t = await tempDir('proxy');
  cleanup = t.cleanup;
  const packed = await packProxyFixture(t.dir);
  fx = packed;
  const tcp = '127.0.0.1:0';
  // Several listeners in one process, each exporting what the -s after it says.
  served = await serveChild([
    '-a',
    packed.archive,
    '--proxy',
    tcp,
    '--proxy-socket',
    join(t.dir, 'proxy.sock'),
    '-s',
    'disk',
    '--proxy',
    tcp,
    '-s',
    'disk:p1',
    '--proxy',
    tcp,
    '-s',
    'disk:p2',
    '--proxy',
    tcp,
    '-s',
    'disk',
    '--offset',
    String(WINDOW.offset),
    '--length',
    String(WINDOW.length),
    '--proxy',
    tcp,
    '-s',
    'other',
  ]);
  const [disk, unix, p1, p2, window, other] = served.listening.map(targetOf);
  at = { disk: disk!, unix: unix!, p1: p1!, p2: p2!, window: window!, other: other! };
});

test.after.always(async () => {
  await served?.stop();
  await cleanup?.();
});

test('the ready line lists each proxy listener with what it exports, and no NBD listener', (t) => {
  t.deepEqual(
    served.listening.map((l) => [l.protocol, l.export]),
    [
      ['proxy', 'disk'],
      ['proxy', 'disk'],
      ['proxy', 'disk/p1'],
      ['proxy', 'disk/p2'],
      ['proxy', `disk@${WINDOW.offset}+${WINDOW.length}`],
      ['proxy', 'other'],
    ],
  );
});

/** `count` reads of 512 B – 8 MiB (log-uniform), half of them straddling a slab boundary, each compared byte for byte. */
async function randomReads(target: Target, expected: Buffer, count: number, seed: number, maxLength = 8 * MiB): Promise<number> {
  const c = await ProxyClient.connect(target);
  const r = rng(seed);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const length = Math.min(expected.length, Math.round(512 * (maxLength / 512) ** r()));
    let offset: number;
    if (i % 2 === 0) offset = Math.floor(r() * (expected.length - length + 1));
    else {
      const boundary = SLAB * (1 + Math.floor(r() * Math.floor(expected.length / SLAB)));
      offset = Math.max(0, Math.min(expected.length - length, boundary - Math.floor(r() * Math.min(length, 4096))));
    }
    const reply = await c.read(offset, length);
    if (reply.errorno !== 0n || !reply.data.equals(expected.subarray(offset, offset + length))) {
      throw new Error(`read ${i}: ${length} bytes at ${offset} differ (errorno ${reply.errorno}, got ${reply.data.length} bytes)`);
    }
    bytes += length;
  }
  await c.close();
  return bytes;
}

test('INFO reports the size, an alignment the driver accepts and RO; the first read (512 B at 0) is the boot sector', async (t) => {
  const c = await ProxyClient.connect(at.disk);
  const info = await c.info();
  t.is(info.size, BigInt(fx.disk.data.length));
  t.true(info.alignment >= 1n && info.alignment <= 512n, `req_alignment ${info.alignment}`);
  t.is(info.flags & FLAG_RO, FLAG_RO);
  t.is(info.flags & ~0x3fn, 0n, 'no undefined flags');
  const boot = await c.read(0, 512);
  t.is(boot.errorno, 0n);
  t.true(boot.data.equals(fx.disk.data.subarray(0, 512)));
  t.is(boot.data.readUInt16LE(510), 0xaa55);
  await c.close();
});

test('1000 random reads of 512 B – 8 MiB over TCP equal the original bytes', async (t) => {
  const bytes = await randomReads(at.disk, fx.disk.data, 1000, 1);
  t.true(bytes > 100 * MiB, `${bytes} bytes read`);
});

test('1000 random reads of 512 B – 8 MiB over the Unix socket equal the original bytes', async (t) => {
  const bytes = await randomReads(at.unix, fx.disk.data, 1000, 2);
  t.true(bytes > 100 * MiB, `${bytes} bytes read`);
});

test('partition exports: INFO gives the partition size, reads are the partition bytes', async (t) => {
  for (const [target, p] of [
    [at.p1, fx.disk.partitions[0]!],
    [at.p2, fx.disk.partitions[1]!],
  ] as const) {
    const c = await ProxyClient.connect(target);
    t.is((await c.info()).size, BigInt(p.size));
    await c.close();
    await randomReads(target, fx.disk.data.subarray(p.start, p.start + p.size), 150, p.index, 2 * MiB);
  }
  t.pass();
});

test('an --offset/--length window: INFO gives its length, reads are those bytes, past its end zeros', async (t) => {
  const expected = fx.disk.data.subarray(WINDOW.offset, WINDOW.offset + WINDOW.length);
  const c = await ProxyClient.connect(at.window);
  t.is((await c.info()).size, BigInt(WINDOW.length));
  const tail = await c.read(WINDOW.length - 10, 4096);
  t.true(tail.data.subarray(0, 10).equals(expected.subarray(WINDOW.length - 10)));
  t.true(tail.data.subarray(10).equals(Buffer.alloc(4086)), 'the disk bytes after the window are not shown');
  await c.close();
  await randomReads(at.window, expected, 150, 9, 2 * MiB);
  t.pass();
});

test(
  'reads past the end: zero-padded to the requested length (as devio), whole reads beyond it all ' +
    'zeros; a read over 4 GiB − 1 is EINVAL',
  async (t) => {
    const other = fx.other;
    const c = await ProxyClient.connect(at.other);
    const size = other.length;
    const cross = await c.read(size - 300, 4096);
    t.is(cross.errorno, 0n);
    t.is(cross.data.length, 4096);
    t.true(cross.data.subarray(0, 300).equals(other.subarray(size - 300)));
    t.true(cross.data.subarray(300).equals(Buffer.alloc(4096 - 300)));
    const beyond = await c.read(size + MiB, 8192);
    t.is(beyond.errorno, 0n);
    t.true(beyond.data.equals(Buffer.alloc(8192)));
    const far = await c.read(2n ** 63n, 512);
    t.true(far.errorno === 0n && far.data.equals(Buffer.alloc(512)));
    // The driver's loop over such a read ends with the full length (no second request needed).
    t.is((await c.readLikeDriver(size - 512, 1024)).length, 1024);
    const empty = await c.read(0, 0);
    t.deepEqual([empty.errorno, empty.data.length], [0n, 0]);
    const huge = await c.read(0, 2n ** 32n);
    t.true(huge.errorno !== 0n, 'a read over the maximum is an error');
    t.is(huge.data.length, 0, 'an error reply carries length 0');
    t.true((await c.read(100, 1000)).data.equals(other.subarray(100, 1100)), 'the session is still usable');
    await c.close();
  },
);

test('a READ longer than the disk (40 MiB, as one IRP over TCP may ask) is sent whole: the disk, then zeros', async (t) => {
  const c = await ProxyClient.connect(at.disk);
  const length = 40 * MiB + 512;
  const r = await c.read(512, length);
  t.is(r.errorno, 0n);
  t.is(r.data.length, length);
  const inside = fx.disk.data.length - 512;
  t.true(r.data.subarray(0, inside).equals(fx.disk.data.subarray(512)));
  t.true(r.data.subarray(inside).equals(Buffer.alloc(length - inside)));
  t.true((await c.read(100, 100)).data.equals(fx.disk.data.subarray(100, 200)), 'the session goes on');
  await c.close();
});

test('WRITE is refused with EBADF after its data is consumed; the session stays usable and the data unchanged', async (t) => {
  const c = await ProxyClient.connect(at.disk);
  for (const n of [1, 512, 64 * 1024, 3 * MiB + 7]) {
    const w = await c.write(4096, Buffer.alloc(n, 0x5a));
    t.deepEqual(w, { errorno: EBADF, length: 0n }, `write of ${n}`);
    const r = await c.read(4096, 8192);
    t.true(r.data.equals(fx.disk.data.subarray(4096, 4096 + 8192)), `after a write of ${n}`);
  }
  t.is(c.pending, 0, 'nothing more than the replies arrived');
  await c.close();
});

test('UNMAP, ZERO, SCSI, SHARED, CONNECT, NULL and unknown codes are refused in their own reply shape; the session goes on', async (t) => {
  const c = await ProxyClient.connect(at.disk);
  const check = async (what: string): Promise<void> => {
    t.true((await c.read(SLAB - 100, 200)).data.equals(fx.disk.data.subarray(SLAB - 100, SLAB + 100)), `usable after ${what}`);
    t.is(c.pending, 0, `no stray bytes after ${what}`);
  };
  t.is(
    await c.ranges(REQ.UNMAP, [
      [0, 4096],
      [MiB, 512],
    ]),
    EBADF,
  );
  await check('UNMAP');
  t.is(await c.ranges(REQ.ZERO, [[8192, 4096]]), EBADF);
  await check('ZERO');
  // SCSI: code, cdb[16], request_length, max_response_length, then request_length bytes → {errorno, length}.
  c.send(u64s(REQ.SCSI), Buffer.alloc(16, 0x28), u64s(24, 512), Buffer.alloc(24));
  const scsi = await c.recv(16);
  t.true(scsi.readBigUInt64LE(0) !== 0n);
  t.is(scsi.readBigUInt64LE(8), 0n);
  await check('SCSI');
  // SHARED: code + 6 u64 → errorno, unique_id[16], 4 u64, length.
  c.send(u64s(REQ.SHARED, 0, 0, 0, 0, 0, 0));
  const shared = await c.recv(64);
  t.true(shared.readBigUInt64LE(0) !== 0n);
  t.is(shared.readBigUInt64LE(56), 0n);
  await check('SHARED');
  const connect = await c.connectRequest('//host:9000/disk');
  t.true(connect.errorCode !== 0n, 'CONNECT is refused explicitly');
  await check('CONNECT');
  for (const code of [REQ.NULL, 10, 77, 2 ** 40]) {
    c.send(u64s(code));
    t.is(await c.u64(), ENODEV, `code ${code}`);
    await check(`code ${code}`);
  }
  await c.close();
});

test('CLOSE and EOF both end the session; other sessions carry on', async (t) => {
  const a = await ProxyClient.connect(at.disk);
  const b = await ProxyClient.connect(at.disk);
  await a.info();
  await a.close();
  t.true(a.isClosed);
  // EOF: the driver over TCP drops the socket without CLOSE.
  b.socket.end();
  await b.closed;
  const c = await ProxyClient.connect(at.disk);
  t.true((await c.read(0, 4096)).data.equals(fx.disk.data.subarray(0, 4096)));
  await c.close();
  // The server's own account of how each session ended.
  const ends = () =>
    served
      .logs()
      .filter((l) => l.msg === 'client session ended')
      .map((l) => l.how);
  for (let i = 0; i < 50 && !(ends().includes('close') && ends().includes('eof')); i++) await new Promise((r) => setTimeout(r, 20));
  t.true(ends().includes('close') && ends().includes('eof'), JSON.stringify(ends()));
});
