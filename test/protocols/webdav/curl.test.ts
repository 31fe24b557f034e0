// curl against the WebDAV share: single, multiple, suffix and open-ended ranges near the end of a
// multi-GiB sparse archived stream (bytes compared with the image), HEAD sizes, conditional
// requests, 416, OPTIONS, refused Depth infinity, quick 404s — and that a tail range reads only
// the slabs it needs, not the stream from byte 0.
import test from 'ava';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededBytes } from '../../archive/harness.js';
import { http, mustSh, sh, startDavServe, type DavServe } from './helpers.js';

const GiB = 1024 ** 3;
// Odd size, data at the start, in the middle and up to the very last byte; holes between.
const SIZE = 3 * GiB + 12_345;
const MARKS = [0, 1536 * 1024 * 1024, SIZE - 3 * 1024 * 1024];
const MARK_BYTES = 3 * 1024 * 1024;

let dir: string;
let image: string;
let serve: DavServe;
let url: string;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-curl-'));
  image = join(dir, 'big.img');
  const fh = await open(image, 'w');
  await fh.truncate(SIZE);
  for (const [i, at] of MARKS.entries()) await fh.write(seededBytes(MARK_BYTES, 70 + i), 0, MARK_BYTES, at);
  await fh.close();
  await mustSh(`node ${JSON.stringify(join(process.cwd(), 'dist/src/cli/main.js'))} create -a arc >/dev/null && node ${JSON.stringify(join(process.cwd(), 'dist/src/cli/main.js'))} pack -a arc big.img --name big --no-verify >/dev/null`, { cwd: dir });
  serve = await startDavServe(['-a', join(dir, 'arc')]);
  url = `${serve.uri}big/disk.img`;
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function imageBytes(start: number, end: number): Promise<Buffer> {
  const fh = await open(image, 'r');
  try {
    const b = Buffer.alloc(end - start + 1);
    await fh.read(b, 0, b.length, start);
    return b;
  } finally {
    await fh.close();
  }
}

/** curl -r RANGE: status, headers and body (as a file, read back). */
async function curlRange(range: string, extra = ''): Promise<{ status: number; headers: string; body: Buffer }> {
  const name = `r${Math.random().toString(36).slice(2)}`;
  const r = await sh(`curl -sS -r ${range} ${extra} -D ${name}.h -o ${name}.b -w '%{http_code}' '${url}'`, { cwd: dir });
  if (r.code !== 0) throw new Error(`curl failed: ${r.stderr}`);
  const headers = await readFile(join(dir, `${name}.h`), 'latin1');
  const body = await readFile(join(dir, `${name}.b`)).catch(() => Buffer.alloc(0));
  await rm(join(dir, `${name}.h`));
  await rm(join(dir, `${name}.b`), { force: true });
  return { status: Number(r.stdout), headers, body };
}

const header = (headers: string, name: string): string | undefined => new RegExp(`^${name}:\\s*(.*?)\\r?$`, 'mi').exec(headers)?.[1];

test('a single range at the end of the 3 GiB stream returns exactly its bytes (206, Content-Range)', async (t) => {
  const start = SIZE - 1_000_000;
  const end = SIZE - 2;
  const r = await curlRange(`${start}-${end}`);
  t.is(r.status, 206);
  t.is(header(r.headers, 'Content-Range'), `bytes ${start}-${end}/${SIZE}`);
  t.true(r.body.equals(await imageBytes(start, end)));
});

test('suffix and open-ended ranges return the last bytes, up to the very end', async (t) => {
  const suffix = await curlRange('-65537');
  t.is(suffix.status, 206);
  t.is(header(suffix.headers, 'Content-Range'), `bytes ${SIZE - 65537}-${SIZE - 1}/${SIZE}`);
  t.true(suffix.body.equals(await imageBytes(SIZE - 65537, SIZE - 1)));
  const open = await curlRange(`${SIZE - 300_001}-`);
  t.is(open.status, 206);
  t.true(open.body.equals(await imageBytes(SIZE - 300_001, SIZE - 1)));
  // A range crossing a hole into data: the hole reads as zeros.
  const across = await curlRange(`${MARKS[1]! - 5000}-${MARKS[1]! + 5000}`);
  t.true(across.body.equals(await imageBytes(MARKS[1]! - 5000, MARKS[1]! + 5000)));
  t.true(across.body.subarray(0, 5000).every((b) => b === 0));
});

test('multiple ranges come back as multipart/byteranges with each part exact', async (t) => {
  const ranges: Array<[number, number]> = [[10, 99], [MARKS[1]! + 7, MARKS[1]! + 70_006], [SIZE - 4097, SIZE - 1]];
  const r = await curlRange(ranges.map(([a, b]) => `${a}-${b}`).join(','));
  t.is(r.status, 206);
  const type = header(r.headers, 'Content-Type') ?? '';
  const boundary = /boundary=(\S+)/.exec(type)?.[1];
  t.truthy(boundary, type);
  t.is(Number(header(r.headers, 'Content-Length')), r.body.length);
  // Parse the parts by their Content-Range headers.
  let pos = 0;
  for (const [a, b] of ranges) {
    const head = r.body.indexOf(`Content-Range: bytes ${a}-${b}/${SIZE}\r\n\r\n`, pos, 'latin1');
    t.true(head >= 0, `part ${a}-${b} present`);
    const start = head + Buffer.byteLength(`Content-Range: bytes ${a}-${b}/${SIZE}\r\n\r\n`);
    t.true(r.body.subarray(start, start + b - a + 1).equals(await imageBytes(a, b)), `part ${a}-${b} bytes`);
    pos = start + b - a + 1;
  }
  t.is(r.body.subarray(pos).toString('latin1'), `\r\n--${boundary}--\r\n`);
});

test('a range past the end is 416 with Content-Range: bytes */size; overlapping ranges are merged', async (t) => {
  const past = await curlRange(`${SIZE}-`);
  t.is(past.status, 416);
  t.is(header(past.headers, 'Content-Range'), `bytes */${SIZE}`);
  const merged = await curlRange('0-99,50-199');
  t.is(merged.status, 206);
  t.is(header(merged.headers, 'Content-Range'), `bytes 0-199/${SIZE}`);
  t.true(merged.body.equals(await imageBytes(0, 199)));
});

test('HEAD gives the exact sizes, validators and no body', async (t) => {
  const head = await sh(`curl -sS -I '${url}'`);
  t.is(Number(header(head.stdout, 'Content-Length')), SIZE);
  t.is(header(head.stdout, 'Accept-Ranges'), 'bytes');
  t.regex(header(head.stdout, 'ETag') ?? '', /^"[0-9a-f]{20}"$/);
  t.truthy(header(head.stdout, 'Last-Modified'));
  const info = await http(`${serve.uri}big/info.json`);
  const infoHead = await http(`${serve.uri}big/info.json`, { method: 'HEAD' });
  t.is(Number(infoHead.headers['content-length']), info.body.length);
  t.is(infoHead.body.length, 0);
  t.is(JSON.parse(info.body.toString()).stream.size, SIZE);
});

test('conditionals: If-None-Match and If-Modified-Since give 304, If-Match a wrong tag 412, If-Range a stale tag the whole file', async (t) => {
  const info = `${serve.uri}big/info.json`;
  const first = await http(info);
  const etag = first.headers.etag!;
  const modified = first.headers['last-modified']!;
  t.is((await http(info, { headers: { 'If-None-Match': etag } })).status, 304);
  t.is((await http(info, { headers: { 'If-None-Match': '"other", ' + etag } })).status, 304);
  t.is((await http(info, { headers: { 'If-None-Match': '"other"' } })).status, 200);
  t.is((await http(info, { headers: { 'If-Modified-Since': modified } })).status, 304);
  t.is((await http(info, { headers: { 'If-Modified-Since': new Date(Date.parse(modified) - 10_000).toUTCString() } })).status, 200);
  t.is((await http(info, { headers: { 'If-Match': '"nope"' } })).status, 412);
  t.is((await http(info, { headers: { 'If-Match': etag } })).status, 200);
  const fresh = await http(info, { headers: { Range: 'bytes=0-9', 'If-Range': etag } });
  t.is(fresh.status, 206);
  t.true(fresh.body.equals(first.body.subarray(0, 10)));
  const stale = await http(info, { headers: { Range: 'bytes=0-9', 'If-Range': '"stale"' } });
  t.is(stale.status, 200);
  t.true(stale.body.equals(first.body));
  // Tags are stable: the same on every request.
  t.is((await http(info, { method: 'HEAD' })).headers.etag, etag);
});

test('OPTIONS on / advertises DAV class 1 and MS-Author-Via, read methods only, no wildcard CORS', async (t) => {
  const r = await http(serve.uri, { method: 'OPTIONS', headers: { translate: 'f' } });
  t.is(r.status, 200);
  t.is(r.headers.dav, '1');
  t.is(r.headers['ms-author-via'], 'DAV');
  t.deepEqual(String(r.headers.allow).split(/,\s*/).sort(), ['GET', 'HEAD', 'OPTIONS', 'PROPFIND']);
  t.is(r.headers['access-control-allow-origin'], undefined);
});

test('PROPFIND Depth infinity (or none) is refused with propfind-finite-depth; Depth 0 describes one file', async (t) => {
  for (const depth of ['infinity', undefined]) {
    const r = await http(serve.uri, { method: 'PROPFIND', headers: depth ? { Depth: depth } : {} });
    t.is(r.status, 403);
    t.regex(r.body.toString(), /<propfind-finite-depth\/>/);
  }
  const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:prop><D:getcontentlength/><D:getetag/><Z:Win32FileAttributes/><D:nosuch/></D:prop></D:propfind>';
  const r = await http(url, { method: 'PROPFIND', headers: { Depth: '0', 'Content-Type': 'application/xml' }, body });
  t.is(r.status, 207);
  const xml = r.body.toString();
  t.regex(xml, new RegExp(`<getcontentlength>${SIZE}</getcontentlength>`));
  t.regex(xml, /<z:Win32FileAttributes>00000001<\/z:Win32FileAttributes>/);
  t.regex(xml, /<getetag>&quot;[0-9a-f]{20}&quot;<\/getetag>/);
  t.regex(xml, /<propstat><prop><nosuch\/><\/prop><status>HTTP\/1.1 404 Not Found<\/status><\/propstat>/);
});

test('desktop.ini, Autorun.inf and other missing names are 404 at every level', async (t) => {
  for (const p of ['desktop.ini', 'Autorun.inf', 'big/desktop.ini', 'big/Autorun.inf', 'big/disk.img/x', 'nosuch/disk.img']) {
    t.is((await http(serve.uri + p)).status, 404, p);
    t.is((await http(serve.uri + p, { method: 'PROPFIND', headers: { Depth: '0' } })).status, 404, p);
  }
});

test('a 16 MiB range at the end of the stream reads only the slabs it needs (not the stream from byte 0)', async (t) => {
  const io = async (): Promise<number> => Number(/^rchar: (\d+)$/m.exec(await readFile(`/proc/${serve.pid}/io`, 'utf8'))![1]);
  const before = await io();
  const r = await http(url, { headers: { Range: `bytes=${SIZE - 16 * 1024 * 1024}-` } });
  t.is(r.status, 206);
  t.is(r.body.length, 16 * 1024 * 1024);
  t.true(r.body.equals(await imageBytes(SIZE - 16 * 1024 * 1024, SIZE - 1)));
  const read = (await io()) - before;
  // The tail holds 3 MiB of data (the rest is a hole): a few MiB of slab files at most.
  t.true(read < 32 * 1024 * 1024, `read ${read} bytes for a 16 MiB tail range`);
});
