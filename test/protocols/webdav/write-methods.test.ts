// litmus cannot test a read-only server (its first step writes), so this sends every write
// method at files, collections and new names and checks that each is refused with 403/405 and
// that nothing changed: the same listing, the same bytes, the archive's files untouched.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleDisk } from '../../../src/sample-disk.js';
import { packArchive } from '../../fs/fuse/helpers.js';
import { http, mustSh, startDavServe, type DavServe } from './helpers.js';

let dir: string;
let archive: string;
let serve: DavServe;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-write-'));
  await writeSampleDisk(join(dir, 'sample.img'), 16);
  archive = await packArchive(dir, [{ path: join(dir, 'sample.img'), name: 'sample' }]);
  serve = await startDavServe(['-a', archive]);
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function snapshot(): Promise<{ listing: string; bytes: string; archiveFiles: string }> {
  const listing = await mustSh(`rclone --config /dev/null --webdav-url '${serve.uri}' lsf -R --format pst :webdav: | sort`);
  const bytes = await mustSh(`curl -sS '${serve.uri}sample/disk.img' '${serve.uri}sample/info.json' '${serve.uri}sample/p1.img' | sha256sum`);
  const archiveFiles = await mustSh(`cd ${JSON.stringify(archive)} && find . -printf '%p %s %T@\\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum`);
  return { listing, bytes, archiveFiles };
}

const LOCK_BODY = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';
const PROPPATCH_BODY = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>';

test('every write method is refused with 403/405 on files, collections and new names, and nothing changes', async (t) => {
  const before = await snapshot();
  t.true(before.listing.includes('sample/disk.img'));
  const targets = ['', 'sample/', 'sample/disk.img', 'sample/info.json', 'sample/p1.img', 'sample/new.txt', 'new-dir/', 'sample/new-dir/'];
  const requests: Array<{ method: string; headers?: Record<string, string>; body?: string }> = [
    { method: 'PUT', body: 'overwritten' },
    { method: 'DELETE' },
    { method: 'MKCOL' },
    { method: 'MOVE', headers: { Destination: `${serve.uri}sample/moved` } },
    { method: 'COPY', headers: { Destination: `${serve.uri}sample/copied` } },
    { method: 'PROPPATCH', headers: { 'Content-Type': 'application/xml' }, body: PROPPATCH_BODY },
    { method: 'LOCK', headers: { 'Content-Type': 'application/xml', Timeout: 'Second-60' }, body: LOCK_BODY },
    { method: 'UNLOCK', headers: { 'Lock-Token': '<opaquelocktoken:1>' } },
    { method: 'POST', body: 'x' },
    { method: 'PATCH', body: 'x' },
  ];
  let sent = 0;
  for (const path of targets) {
    for (const r of requests) {
      const a = await http(serve.uri + path, { method: r.method, headers: r.headers, body: r.body });
      t.true(a.status === 405 || a.status === 403, `${r.method} /${path}: ${a.status}`);
      if (a.status === 405) t.deepEqual(String(a.headers.allow).split(/,\s*/).sort(), ['GET', 'HEAD', 'OPTIONS', 'PROPFIND']);
      sent++;
    }
  }
  t.is(sent, targets.length * requests.length);
  t.deepEqual(await snapshot(), before);
});

test('rclone and curl uploads fail and leave the share unchanged', async (t) => {
  const before = await snapshot();
  await mustSh(`echo hello > ${join(dir, 'up.txt')}`);
  const up = await mustSh(`rclone --config /dev/null --webdav-url '${serve.uri}' copyto ${join(dir, 'up.txt')} :webdav:sample/up.txt --retries 1 --low-level-retries 1 2>&1 || echo FAILED`);
  t.regex(up, /FAILED/);
  const curl = await mustSh(`curl -s -o /dev/null -w '%{http_code}' -T ${join(dir, 'up.txt')} '${serve.uri}sample/disk.img'`);
  t.is(curl, '405');
  t.deepEqual(await snapshot(), before);
});
