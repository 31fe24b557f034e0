// PROPFIND Depth 1 of a directory of 10^5 entries on a real NTFS volume (built with ntfs-3g, ~13 s
// here) served by `diskarc serve --webdav` in its own process: curl reads the whole answer, a real
// XML parser (Python's expat) finds it well-formed with every entry, and the server's RSS, sampled
// from /proc during the answer, grows far less than a buffering server's (checked: with the whole
// answer buffered, +200 MiB; streamed, +40). A client that stops reading holds the rest of the
// answer back and gets all of it once it reads again (that test alone cannot tell buffering apart:
// a buffering server has spent its memory before the first byte — the first test shows that).
import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packArchive } from '../../fs/fuse/helpers.js';
import { memoryOf, mustSh, sh, startDavServe, type DavServe } from './helpers.js';

const ENTRIES = 100_000;
const MiB = 1024 * 1024;
/**
 * Growth of the server's RSS over its idle level while it answers. The answer is ~30 MiB; the
 * directory's 10^5 entries themselves are listed in memory by the NTFS reader (~25 MiB here), so a
 * buffering server (answer as one string, then as one Buffer) grows by ~200 MiB; streamed, it
 * measured +38 to +80 MiB depending on where the collector stands.
 */
const GROWTH_MIB = 120;

let dir: string;
let serve: DavServe;
let url: string;
/** The server's RSS before it has listed the directory. */
let started: number;
let firstListingPeak: number;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-propfind-'));
  const mp = join(dir, 'mnt');
  await mustSh(`
    set -e
    truncate -s 512M vol.img
    mkntfs -F -Q -q vol.img >/dev/null 2>&1
    mkdir -p ${mp}
    ntfs-3g vol.img ${mp}
    trap 'fusermount3 -u ${mp} || fusermount -u ${mp}' EXIT
    mkdir ${mp}/big
    (cd ${mp}/big && seq -f 'file-%06g.txt' 1 ${ENTRIES} | xargs touch)
  `, { cwd: dir, timeoutMs: 180_000 });
  const archive = await packArchive(dir, [{ path: join(dir, 'vol.img'), name: 'vol' }]);
  serve = await startDavServe(['-a', archive, '--data-cache-size-mib', '32']);
  url = `${serve.uri}vol/fs/big/`;
  started = (await memoryOf(serve.pid)).rss;
  // Warm: the first listing reads the volume's index; the measured one shows the answer's own cost.
  const first = mustSh(`curl -sS -o /dev/null -X PROPFIND -H 'Depth: 1' '${url}'`, { timeoutMs: 120_000 });
  firstListingPeak = await peakRssDuring(first);
  await first;
});

test.serial('the first listing of 10^5 entries reads their MFT records with bounded memory', (t) => {
  // Every child's node reads its MFT record. Started all at once, without sharing a block's read,
  // this took the server from ~65 MiB to ~6.4 GiB (a 64 KiB MFT block per entry).
  const grew = firstListingPeak - started;
  t.log(`server RSS ${Math.round(started / 2 ** 20)} MiB → peak ${Math.round(firstListingPeak / 2 ** 20)} MiB during the first listing`);
  t.true(grew < 1024 * 2 ** 20, `grew ${Math.round(grew / 2 ** 20)} MiB`);
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Samples the server's RSS every 20 ms until `done` settles; returns the highest sample. */
async function peakRssDuring(done: Promise<unknown>): Promise<number> {
  let peak = 0;
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => {});
  while (!finished) {
    peak = Math.max(peak, (await memoryOf(serve.pid)).rss);
    await new Promise((r) => setTimeout(r, 20));
  }
  return peak;
}

test.serial('curl reads a well-formed Depth 1 answer with all 10^5 entries; server RSS grows far less than the answer', async (t) => {
  const out = join(dir, 'answer.xml');
  const idle = (await memoryOf(serve.pid)).rss;
  const curl = sh(`curl -sS -o '${out}' -w '%{http_code}' -X PROPFIND -H 'Depth: 1' '${url}'`, { timeoutMs: 120_000 });
  const peak = await peakRssDuring(curl);
  const r = await curl;
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '207');
  const size = (await stat(out)).size;
  // expat parses the whole answer (a malformed one raises); every member once, named as created.
  const check = await mustSh(`python3 -c '
import sys, xml.etree.ElementTree as ET
from urllib.parse import unquote
hrefs = []
for _, el in ET.iterparse(sys.argv[1]):
    if el.tag == "{DAV:}href": hrefs.append(unquote(el.text))
    if el.tag == "{DAV:}response": el.clear()
names = sorted(h.rsplit("/", 1)[-1] for h in hrefs[1:])
want = sorted("file-%06d.txt" % i for i in range(1, ${ENTRIES} + 1))
print(len(hrefs), hrefs[0], names == want)
' '${out}'`, { timeoutMs: 60_000 });
  t.is(check.trim(), `${ENTRIES + 1} /vol/fs/big/ True`);
  const growth = peak - idle;
  t.log(`answer ${(size / MiB).toFixed(1)} MiB; server RSS at start ${(started / MiB).toFixed(0)} MiB, after a first listing ${(idle / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(0)} MiB)`);
  t.true(size > 20 * MiB, `${size} bytes`);
  t.true(growth < GROWTH_MIB * MiB, `RSS grew by ${(growth / MiB).toFixed(0)} MiB`);
});

test.serial('a client that stops reading holds the answer back: the server does not buffer it, and it completes', async (t) => {
  let received = 0;
  let tail = '';
  let res!: import('node:http').IncomingMessage;
  const firstBytes = new Promise<void>((resolve, reject) => {
    const req = request(url, { method: 'PROPFIND', headers: { Depth: '1' }, agent: false }, (r) => {
      res = r;
      r.once('data', (c: Buffer) => {
        received += c.length;
        r.pause();
        resolve();
      });
    });
    req.on('error', reject);
    req.end();
  });
  await firstBytes;
  // From here the listing is read and rendering has begun; a buffering server would keep rendering.
  const idle = (await memoryOf(serve.pid)).rss;
  // While nothing is read, the server may only run ahead by what the sockets' buffers hold.
  const paused = new Promise((r) => setTimeout(r, 1500));
  const peakPaused = await peakRssDuring(paused);
  const receivedWhilePaused = received;
  const whole = new Promise<void>((resolve, reject) => {
    res.on('data', (c: Buffer) => {
      received += c.length;
      tail = (tail + c.toString('latin1')).slice(-32);
    });
    res.on('end', resolve);
    res.on('error', reject);
  });
  res.resume();
  await whole;
  t.log(`server RSS while the client paused: +${((peakPaused - idle) / MiB).toFixed(0)} MiB; answer ${(received / MiB).toFixed(1)} MiB`);
  t.true(receivedWhilePaused < MiB);
  t.true(received > 20 * MiB, `${received} bytes`);
  t.true(tail.endsWith('</multistatus>\n'));
  t.true(peakPaused - idle < GROWTH_MIB * MiB, `RSS grew by ${((peakPaused - idle) / MiB).toFixed(0)} MiB while paused`);
});
