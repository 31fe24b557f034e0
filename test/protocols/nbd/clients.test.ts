// The NBD server against Debian's real clients (libnbd's nbdinfo / nbdcopy / nbdsh, qemu-img,
// qemu-io), all run as async child processes while the server runs in this process.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prng, run, tempDir, type TestServer } from './helpers.js';
import { openFixtureDisks, type FixtureDisk } from './fixture-disks.js';

let server: TestServer;
let disks: FixtureDisk[];
let cleanup: () => Promise<void>;
let dir: string;

test.before(async () => {
  const t = await tempDir('nbd-clients');
  dir = t.dir;
  cleanup = t.cleanup;
  ({ server, disks } = await openFixtureDisks(dir));
});

test.after.always(async () => {
  await server?.stop();
  await cleanup?.();
});

/** nbdsh comes from python3-libnbd; call it through Debian's python, whatever python3 is on PATH. */
const nbdsh = (args: string[], timeoutMs?: number) => run('/usr/bin/python3', ['-m', 'nbd', ...args], { timeoutMs });

test('nbdinfo --list shows every stream by name and by id with its size', async (t) => {
  const r = await run('nbdinfo', ['--list', '--json', server.unixUri('')]);
  t.is(r.code, 0, r.stderr);
  const listed = new Map<string, number>(
    (JSON.parse(r.stdout) as { exports: Array<{ 'export-name': string; 'export-size': number }> }).exports.map((e) => [
      e['export-name'],
      e['export-size'],
    ]),
  );
  for (const d of disks) {
    t.is(listed.get(d.name), d.data.length, `export ${d.name}`);
    t.is(listed.get(d.id), d.data.length, `export ${d.id}`);
  }
});

test('nbdinfo --map of the sparse disk reports exactly the source extents, holes where the layout has holes', async (t) => {
  const d = disks.find((x) => x.sparse)!;
  const r = await run('nbdinfo', ['--map', '--json', server.unixUri(d.name)]);
  t.is(r.code, 0, r.stderr);
  const map = JSON.parse(r.stdout) as Array<{ offset: number; length: number; type: number }>;
  t.deepEqual(
    map.map((m) => ({ offset: m.offset, length: m.length, type: m.type })),
    d.expectedMap,
  );
  // Independent of the source: every hole region of the generated layout is reported as HOLE|ZERO,
  // every random/text region as data.
  const typeAt = (o: number) => map.find((m) => m.offset <= o && o < m.offset + m.length)!.type;
  for (const region of d.layout!.regions) {
    const mid = region.offset + Math.floor(region.length / 2);
    if (region.kind === 'hole') t.is(typeAt(mid), 3, `hole at ${region.offset}`);
    if (region.kind === 'random' || region.kind === 'text' || region.kind === 'repeated')
      t.is(typeAt(mid), 0, `${region.kind} at ${region.offset}`);
  }
});

test('nbdcopy of each export equals the original byte for byte (Unix socket and TCP)', async (t) => {
  for (const d of disks) {
    for (const [via, uri] of [
      ['unix', server.unixUri(d.name)],
      ['tcp', server.tcpUri(d.id)],
    ] as const) {
      const out = join(dir, `copy-${d.id}-${via}.img`);
      const r = await run('nbdcopy', [uri, out], { timeoutMs: 120000 });
      t.is(r.code, 0, r.stderr);
      t.true((await readFile(out)).equals(d.data), `${d.name} via ${via}`);
    }
  }
});

test('qemu-img compare reports the exports identical to the originals', async (t) => {
  for (const d of disks) {
    const r = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', server.unixUri(d.name), d.path]);
    t.is(r.code, 0, r.stdout + r.stderr);
    t.regex(r.stdout, /Images are identical/);
  }
});

/** Parses `qemu-io -c 'read -v …'` hex dumps back into bytes. */
function parseHexDump(text: string): Map<number, number> {
  const bytes = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{8}):\s+((?:[0-9a-f]{2}\s)+)/.exec(line);
    if (!m) continue;
    const base = parseInt(m[1]!, 16);
    m[2]!
      .trim()
      .split(/\s+/)
      .forEach((h, i) => {
        bytes.set(base + i, parseInt(h, 16));
      });
  }
  return bytes;
}

test('qemu-io random reads across the disk (and slab boundaries) return the right bytes', async (t) => {
  const d = disks.find((x) => x.sparse)!;
  const rnd = prng(64, 7);
  const cmds: string[] = [];
  const reads: Array<[number, number]> = [];
  for (let i = 0; i < 12; i++) {
    const len = 1 + ((rnd.readUInt16LE(i * 4) * 7) % 3000);
    const off = Math.floor((rnd.readUInt32LE(i * 4) / 0xffffffff) * (d.data.length - len));
    reads.push([off, len]);
    cmds.push('-c', `read -v ${off} ${len}`);
  }
  // Pattern checks on the fill and hole regions of the layout.
  for (const region of d.layout!.regions) {
    const pattern = region.kind === 'ones' ? 0xff : region.kind === 'zeros' || region.kind === 'hole' ? 0 : undefined;
    if (pattern !== undefined) cmds.push('-c', `read -P ${pattern} ${region.offset} ${region.length}`);
  }
  const r = await run('qemu-io', ['-r', '-f', 'raw', ...cmds, server.unixUri(d.name)]);
  t.is(r.code, 0, r.stderr);
  t.notRegex(r.stdout + r.stderr, /Pattern verification failed|error|failed/i);
  const dumped = parseHexDump(r.stdout);
  for (const [off, len] of reads) {
    for (let i = off; i < off + len; i++) {
      if (dumped.get(i) !== d.data[i]) return t.fail(`byte ${i} is ${dumped.get(i)}, expected ${d.data[i]}`);
    }
  }
  t.pass();
});

test('16 concurrent clients reading different exports and ranges get the right bytes', async (t) => {
  const jobs = Array.from({ length: 16 }, (_, i) => {
    const d = disks[i % disks.length]!;
    const rnd = prng(32, 100 + i);
    const ranges = Array.from({ length: 6 }, (_, k) => {
      const len = 1 + (rnd.readUInt32LE(k * 4) % Math.min(d.data.length, 1 << 20));
      const off = rnd.readUInt32LE(((k + 1) * 4) % 28) % (d.data.length - len + 1);
      return [off, len] as [number, number];
    });
    const code = `import hashlib\nfor off, n in ${JSON.stringify(ranges)}:\n    print(hashlib.sha256(h.pread(n, off)).hexdigest())`;
    const uri = i % 2 === 0 ? server.unixUri(i % 4 === 0 ? d.id : d.name) : server.tcpUri(d.name);
    return nbdsh(['-u', uri, '-c', code], 120000).then((r) => ({ r, d, ranges }));
  });
  for (const { r, d, ranges } of await Promise.all(jobs)) {
    t.is(r.code, 0, r.stderr);
    const want = ranges.map(([off, len]) =>
      createHash('sha256')
        .update(d.data.subarray(off, off + len))
        .digest('hex'),
    );
    t.deepEqual(r.stdout.trim().split('\n'), want, d.name);
  }
});

test('a write attempt gets EPERM from the server (libnbd strict mode off, so the request is really sent)', async (t) => {
  const d = disks[0]!;
  const code = [
    'h.set_strict_mode(0)',
    'import errno',
    'for name, op in [("write", lambda: h.pwrite(b"x" * 512, 0)), ("trim", lambda: h.trim(512, 0)), ("zero", lambda: h.zero(512, 0))]:',
    '    try:',
    '        op()',
    '        print(name, "succeeded")',
    '    except nbd.Error as e:',
    '        print(name, errno.errorcode.get(e.errno, e.errno))',
    'print("read", len(h.pread(512, 0)))',
  ].join('\n');
  // Strict mode must be relaxed before connecting, so connect inside the script.
  const r = await nbdsh(['-c', `h.set_strict_mode(0)\nh.connect_uri(${JSON.stringify(server.unixUri(d.name))})\n${code}`]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['write EPERM', 'trim EPERM', 'zero EPERM', 'read 512']);
  // And qemu-io, as a user would try it: the write must fail, the data must be unchanged.
  const q = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x55 0 4k', server.unixUri(d.name)]);
  t.not(q.code === 0 && !/error|denied|not permitted|read-only/i.test(q.stdout + q.stderr), true, q.stdout + q.stderr);
  const again = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', server.unixUri(d.name), d.path]);
  t.is(again.code, 0);
});

test("partitions of an archived disk are exports NAME/pN and ID/pN whose bytes are the partition's", async (t) => {
  const d = disks.find((x) => x.sparse)!;
  const r = await run('nbdinfo', ['--list', '--json', server.unixUri('')]);
  t.is(r.code, 0, r.stderr);
  const listed = new Map<string, number>(
    (JSON.parse(r.stdout) as { exports: Array<{ 'export-name': string; 'export-size': number }> }).exports.map((e) => [
      e['export-name'],
      e['export-size'],
    ]),
  );
  for (const p of d.layout!.partitions) {
    t.is(listed.get(`${d.name}/p${p.index}`), p.size, `${d.name}/p${p.index} listed with its size`);
    const out = join(dir, `part-${p.index}.img`);
    const via = p.index === 1 ? server.unixUri(`${d.id}/p1`) : server.tcpUri(`${d.name}/p${p.index}`);
    const c = await run('nbdcopy', [via, out]);
    t.is(c.code, 0, c.stderr);
    t.true((await readFile(out)).equals(d.data.subarray(p.start, p.start + p.size)), `partition ${p.index} bytes`);
  }
  t.false(listed.has(`${d.name}/p3`));
  const missing = await run('nbdinfo', ['--size', server.unixUri(`${d.name}/p3`)]);
  t.not(missing.code, 0);
});
