// WebDAV inside the serve process: a stream packed while serving appears in the share (as it
// does in NBD's export list and the FUSE mount), and SIGTERM lets a download in progress finish
// before the process exits 0 with its port closed.
import test from 'ava';
import { connect } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeSampleDisk } from '../../../src/sample-disk.js';
import { packArchive } from '../../fs/fuse/helpers.js';
import { CLI, http, mustSh, startDavServe, type DavServe } from './helpers.js';

let dir: string;
let archive: string;
let serve: DavServe;
let etagBefore: string | undefined;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-serve-'));
  await writeSampleDisk(join(dir, 'one.img'), 16);
  await writeSampleDisk(join(dir, 'two.img'), 8);
  archive = await packArchive(dir, [{ path: join(dir, 'one.img'), name: 'one' }]);
  serve = await startDavServe(['-a', archive, '--nbd', '127.0.0.1:0']);
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const rootNames = async (): Promise<string[]> => {
  const r = await http(serve.uri, { method: 'PROPFIND', headers: { Depth: '1' } });
  return [...r.body.toString().matchAll(/<href>\/([^<]*)\/<\/href>/g)].map((m) => decodeURIComponent(m[1]!)).sort();
};

test.serial('a stream packed while serving appears in the share within a few seconds, its bytes exact', async (t) => {
  t.deepEqual(await rootNames(), ['one']);
  etagBefore = (await http(`${serve.uri}one/p1.img`, { method: 'HEAD' })).headers.etag;
  t.truthy(etagBefore);
  await mustSh(`node ${CLI} pack -a ${archive} ${join(dir, 'two.img')} --name two --no-verify >/dev/null`);
  let names: string[] = [];
  for (let i = 0; i < 60 && !names.includes('two'); i++) {
    await new Promise((r) => setTimeout(r, 200));
    names = await rootNames();
  }
  t.deepEqual(names, ['one', 'two']);
  const got = (await http(`${serve.uri}two/disk.img`)).body;
  t.true(got.equals(await readFile(join(dir, 'two.img'))));
});

test.serial('SIGTERM during a download: the download completes, the process exits 0, the port is closed', async (t) => {
  const want = createHash('sha256').update(await readFile(join(dir, 'one.img'))).digest('hex');
  // A slow reader: 12 MiB at 4 MiB/s, about 3 s — more than the socket buffers hold, less than the 5 s grace.
  const curl = spawn('bash', ['-c', `curl -sS --limit-rate 4M -r 0-12582911 '${serve.uri}one/disk.img' | sha256sum`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  curl.stdout.on('data', (d) => (out += d));
  const curlDone = new Promise<number | null>((r) => curl.on('exit', r));
  await new Promise((r) => setTimeout(r, 800));
  const t0 = Date.now();
  const code = await serve.stop();
  t.is(code, 0);
  t.is(await curlDone, 0);
  const stoppedAfter = Date.now() - t0;
  const first3 = createHash('sha256').update((await readFile(join(dir, 'one.img'))).subarray(0, 12 * 1024 * 1024)).digest('hex');
  t.is(out.split(' ')[0], first3, 'the in-flight download finished intact');
  t.not(first3, want);
  // The process waited for the download (it does not just cut it), within the grace period.
  t.true(stoppedAfter > 1000 && stoppedAfter < 10_000, `stopped after ${stoppedAfter} ms`);
  const refused = await new Promise<boolean>((resolve) => {
    const s = connect(serve.port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
  t.true(refused, 'nothing listens on the WebDAV port any more');
});

test.serial('ETags and Last-Modified are the same after a restart (stable validators)', async (t) => {
  serve = await startDavServe(['-a', archive]);
  const head = await http(`${serve.uri}one/p1.img`, { method: 'HEAD' });
  t.is(head.headers.etag, etagBefore);
  t.is((await http(`${serve.uri}one/p1.img`, { headers: { 'If-None-Match': etagBefore! } })).status, 304);
});
