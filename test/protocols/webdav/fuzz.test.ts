// A bounded corpus of ≥ 10^4 hostile and malformed requests (path traversal in every encoding,
// NUL, over-long names and URLs, bad methods, headers, ranges, depths and XML bodies, raw garbage)
// over raw sockets: no crash, no hang, no 5xx, nothing outside the tree ever served — while a
// parallel client keeps downloading a file and gets every byte right.
import test from 'ava';
import { connect } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeSampleDisk } from '../../../src/sample-disk.js';
import { seededBytes } from '../../archive/harness.js';
import { packArchive } from '../../fs/fuse/helpers.js';
import { http, startDavServe, type DavServe } from './helpers.js';

const REQUESTS = 10_000;
const PARALLEL = 16;
const SECRET = `diskarc-fuzz-secret-${process.pid}`;

let dir: string;
let serve: DavServe;
let secretPath: string;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-fuzz-'));
  await writeSampleDisk(join(dir, 'sample.img'), 16);
  const archive = await packArchive(dir, [{ path: join(dir, 'sample.img'), name: 'sample' }]);
  // A file beside the archive a traversal would reach: its content must never come back.
  secretPath = join(dir, 'secret.txt');
  await writeFile(secretPath, SECRET);
  serve = await startDavServe(['-a', archive]);
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Deterministic pseudo-random choices, so a failure is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

function corpus(n: number): Buffer[] {
  const r = rng(1234);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const abs = secretPath.slice(1);
  const rel = '../'.repeat(12) + abs;
  const paths = [
    `/${rel}`, `/sample/${rel}`, `/${encodeURIComponent(rel)}`, `/${rel.replace(/\//g, '%2f')}`, `/${rel.replace(/\//g, '%5c')}`,
    `/${rel.replace(/\//g, '\\')}`, `/%2e%2e/%2e%2e/%2e%2e/${abs}`, `/sample/%2E%2E/%2E%2E/${abs}`, `/sample/..%2f..%2f${abs}`,
    `/%c0%ae%c0%ae/%c0%ae%c0%ae/${abs}`, `/%252e%252e/${abs}`, `/.%2e/.%2e/${abs}`, `//${abs}`, `/${secretPath}`, `file://${secretPath}`,
    `http://evil/${rel}`, '/sample/disk.img%00.txt', '/sample%00/disk.img', '/%00', '/%', '/%zz', '/%e2%82', '/%ff%fe',
    '/' + 'a'.repeat(300), '/sample/' + 'é'.repeat(200), '/' + 'x/'.repeat(2000), '/?' + 'q'.repeat(9000), '/' + 'y'.repeat(9000),
    '/sample/disk.img', '/sample/info.json', '/sample/', '/', '/sample/p1.img', '/desktop.ini', '/sample/p9.img', '*', '',
    '/sample/./info.json', '/sample/../sample/info.json', '/sample/info.json/..', '/sample;/info.json', '/sample/info.json#frag',
  ];
  const methods = ['GET', 'HEAD', 'PROPFIND', 'OPTIONS', 'PUT', 'DELETE', 'MKCOL', 'MOVE', 'COPY', 'LOCK', 'PROPPATCH', 'FOO', 'get', 'G\u00c9T', 'GET GET', 'TRACE', 'CONNECT'];
  const headers = [
    'Range: bytes=0-0', 'Range: bytes=-1', 'Range: bytes=99999999999999999999-', 'Range: bytes=--', 'Range: bytes=5-1',
    'Range: bytes=' + Array.from({ length: 500 }, (_, i) => `${i * 7}-${i * 7 + 3}`).join(','), 'Range: lines=1-2', 'Range: bytes=0-1,0-1,0-1',
    'Depth: 0', 'Depth: 1', 'Depth: infinity', 'Depth: -1', 'Depth: 99', 'If-Range: garbage', 'If-None-Match: *', 'If-Match: *',
    'If-Modified-Since: yesterday', 'Destination: http://127.0.0.1/../../etc', 'Authorization: Basic !!!!', 'Content-Length: -1',
    'Content-Length: 99999999999', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Expect: 100-continue', 'X: ' + 'h'.repeat(20_000),
  ];
  const bodies = [
    '', '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><D:propfind xmlns:D="DAV:"><D:prop>&lol2;</D:prop></D:propfind>',
    '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>', '<propfind><prop/></propfind>', '<a:propfind xmlns:a="DAV:"><a:prop><x:y/></a:prop></a:propfind>',
    '<'.repeat(5000), 'x'.repeat(70_000), '<D:propfind xmlns:D="DAV:">' + '<D:prop>'.repeat(3000) + '</D:propfind>',
  ];
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r();
    if (kind < 0.08) {
      // Raw garbage, or a request line cut short.
      out.push(pick([Buffer.from(seededBytes(1 + Math.floor(r() * 600), i)), Buffer.from('GET /sample/disk.img HTTP/1.1\r\nHost: x\r\n'), Buffer.from('GET / HTTP/9.9\r\n\r\n'), Buffer.from('\r\n\r\n'), Buffer.from('GET /\r\n\r\n')]));
      continue;
    }
    const body = r() < 0.3 ? pick(bodies) : '';
    const hs = Array.from({ length: Math.floor(r() * 3) }, () => pick(headers));
    const hasLength = hs.some((h) => /^(content-length|transfer-encoding):/i.test(h));
    const req = `${pick(methods)} ${pick(paths)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${hs.join('\r\n')}${hs.length ? '\r\n' : ''}${hasLength ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`;
    out.push(Buffer.from(req));
  }
  return out;
}

/** Sends one raw request on its own connection; resolves with what came back before close. */
function raw(port: number, data: Buffer): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), ms: Date.now() - t0 });
    };
    // Half-finished requests wait for the server's request timeout; cut them after 2 s ourselves.
    const timer = setTimeout(done, 2000);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (Buffer.concat(chunks).length > 4 * 1024 * 1024) done();
    });
    s.on('error', done);
    s.on('close', done);
    s.end(data);
  });
}

test('≥ 10^4 fuzzed requests: no crash, hang, 5xx or escape; a parallel client is unaffected', async (t) => {
  const wanted = (await http(`${serve.uri}sample/disk.img`)).body;
  const want = createHash('sha256').update(wanted).digest('hex');
  const secret = await readFile(secretPath, 'utf8');
  const requests = corpus(REQUESTS);
  let fuzzing = true;
  let downloads = 0;
  const bystander = (async () => {
    while (fuzzing) {
      const r = await http(`${serve.uri}sample/disk.img`, { timeoutMs: 20_000 });
      t.is(r.status, 200);
      t.is(createHash('sha256').update(r.body).digest('hex'), want);
      downloads++;
    }
  })();
  const statuses = new Map<string, number>();
  let next = 0;
  let slowest = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const req = requests[next++]!;
      const { reply, ms } = await raw(serve.port, req);
      slowest = Math.max(slowest, ms);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 'none';
      if (status === 'none' && process.env.FUZZ_DEBUG) console.error(ms, JSON.stringify(req.toString('latin1').slice(0, 300)));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (reply.includes(secret)) t.fail(`served the file outside the tree for: ${req.toString('latin1').slice(0, 200)}`);
      if (status.startsWith('5') && status !== '501') t.fail(`${status} for: ${req.toString('latin1').slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  fuzzing = false;
  await bystander;
  t.log(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; bystander downloads: ${downloads}; slowest reply ${slowest} ms`);
  t.is([...statuses.values()].reduce((a, b) => a + b, 0), REQUESTS);
  t.true(downloads >= 3);
  // Only a cut-short request may go without an answer (we stop waiting at 2 s).
  t.true((statuses.get('none') ?? 0) < REQUESTS * 0.05);
  t.is(serve.child.exitCode, null, 'the server is still running');
  t.is((await http(serve.uri, { method: 'OPTIONS' })).status, 200);
});
