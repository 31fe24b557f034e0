// Real WebDAV clients on an archived disk holding the NTFS fixture (Unicode names, deep trees,
// ADS, a 3000-entry directory): rclone's listing equals the FUSE mount's, rclone's copy of the
// partition equals the Sleuth Kit oracle's hashes, cadaver lists and reads, and a PROPFIND of
// the big directory stays under Windows' FileAttributesLimitInBytes.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ntfsFixtures, type OracleEntry } from '../../fixtures/ntfs/fixtures.js';
import { packArchive, startMount, type RunningMount } from '../../fs/fuse/helpers.js';
import { http, mustSh, sh, startDavServe, type DavServe } from './helpers.js';

let dir: string;
let serve: DavServe;
let mount: RunningMount;
let entries: OracleEntry[];

test.before(async () => {
  const fx = await ntfsFixtures();
  const c4k = fx.images.find((i) => i.name === 'c4k');
  if (!c4k) throw new Error('NTFS fixture c4k missing');
  entries = c4k.oracle.entries;
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-clients-'));
  await mustSh(`
    set -e
    size=$(stat -c %s ${c4k.image})
    truncate -s $(( size + 2 * 1048576 )) win.img
    printf 'label: dos\\n1M,%sK,7\\n' $(( size / 1024 )) | sfdisk -q win.img
    dd if=${c4k.image} of=win.img bs=1M seek=1 conv=sparse,notrunc status=none
  `, { cwd: dir });
  const archive = await packArchive(dir, [{ path: join(dir, 'win.img'), name: 'win' }, { path: c4k.image, name: 'bare-ntfs' }]);
  serve = await startDavServe(['-a', archive]);
  mount = await startMount(archive, join(dir, 'mnt'));
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (mount) await mount.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const rclone = (args: string): Promise<string> => mustSh(`rclone --config /dev/null --webdav-url '${serve.uri}' ${args}`, { timeoutMs: 120_000 });

test.serial('rclone lsf -R over WebDAV lists exactly what rclone lists on the FUSE mount', async (t) => {
  const dav = (await rclone(`lsf -R --format pst --separator '|' :webdav:`)).split('\n').filter(Boolean).sort();
  const local = (await mustSh(`rclone --config /dev/null lsf -R --format pst --separator '|' ${JSON.stringify(mount.mp)} 2>/dev/null`)).split('\n').filter(Boolean).sort();
  t.true(local.length > 6000, `${local.length} entries`);
  // Path, size and modification time (to the second, what getlastmodified carries) of every entry.
  const seconds = (l: string) => l.replace(/\|(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)?$/, '|$1');
  t.deepEqual(dav.map(seconds), local.map(seconds));
});

test.serial('rclone copy of p1/ gives every file and alternate data stream with the oracle\'s sha256', async (t) => {
  const out = join(dir, 'copy');
  await rclone(`copy --transfers 4 --checkers 4 :webdav:win/p1 ${JSON.stringify(out)}`);
  const want = new Map<string, string>();
  for (const e of entries) {
    if (e.type === 'file' && e.sha256) want.set(e.path, e.sha256);
    for (const s of e.streams) want.set(`${e.path}:${s.name}`, s.sha256);
  }
  t.true([...want.keys()].some((p) => /[^\x00-\x7f]/.test(p)), 'the fixture has Unicode names');
  t.true([...want.keys()].some((p) => p.includes(':')), 'the fixture has ADS');
  t.true([...want.keys()].some((p) => p.split('/').length > 8), 'the fixture has a deep tree');
  const sums = await mustSh(`cd ${JSON.stringify(out)} && find . -type f -print0 | xargs -0 sha256sum -z`);
  const got = new Map<string, string>();
  for (const rec of sums.split('\0')) if (rec) got.set(rec.slice(66).replace(/^\.\//, ''), rec.slice(0, 64));
  const mismatches = [...want].filter(([p, sha]) => got.get(p) !== sha).map(([p]) => p);
  t.deepEqual(mismatches, []);
  // Nothing beyond the oracle's files (symlinks are not part of the share).
  t.deepEqual([...got.keys()].filter((p) => !want.has(p)), []);
});

test.serial('cadaver lists a directory and downloads a file byte for byte', async (t) => {
  const target = entries.find((e) => e.type === 'file' && e.path.startsWith('basic/') && e.size > 100_000 && e.sha256)!;
  const local = join(dir, 'cadaver.bin');
  const r = await sh(`printf 'ls /win/p1/basic/\\nget /win/p1/${target.path} ${local}\\nquit\\n' | timeout 60 cadaver '${serve.uri}'`);
  t.regex(r.stdout, /Listing collection `\/win\/p1\/basic\/': succeeded/);
  for (const e of entries.filter((x) => x.path.startsWith('basic/') && x.type === 'file')) t.true(r.stdout.includes(e.name), e.name);
  t.is(createHash("sha256").update(await readFile(local)).digest("hex"), target.sha256!);
});

test.serial('PROPFIND Depth 1 of the 3000-entry directory (allprop, as Windows asks) answers under 1,000,000 bytes', async (t) => {
  const big = entries.filter((e) => e.path.startsWith('bigdir/') && e.path.split('/').length === 2);
  t.true(big.length >= 3000, `${big.length} entries`);
  const r = await http(`${serve.uri}win/p1/bigdir/`, { method: 'PROPFIND', headers: { Depth: '1' } });
  t.is(r.status, 207);
  t.true(r.body.length < 1_000_000, `${r.body.length} bytes`);
  t.is((r.body.toString().match(/<response>/g) ?? []).length, big.length + 1);
  t.log(`PROPFIND of ${big.length} entries: ${r.body.length} bytes (${Math.round(r.body.length / (big.length + 1))} per entry)`);
});

test.serial('an answer over 1 MiB (every property of the 3000 entries) is streamed whole and well-formed', async (t) => {
  const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:prop><D:displayname/><D:getetag/><D:getcontenttype/><D:creationdate/><D:getlastmodified/><D:getcontentlength/><D:resourcetype/><Z:Win32LastAccessTime/><Z:Win32FileAttributes/></D:prop></D:propfind>';
  const r = await http(`${serve.uri}win/p1/bigdir/`, { method: 'PROPFIND', headers: { Depth: '1' }, body });
  t.is(r.status, 207);
  t.is(r.headers['content-length'], undefined, 'streamed (chunked), not buffered');
  t.is(r.headers['transfer-encoding'], 'chunked');
  const xml = r.body.toString();
  t.true(r.body.length > 1024 * 1024, `${r.body.length} bytes`);
  t.true(xml.endsWith('</multistatus>\n'));
  const hrefs = [...xml.matchAll(/<href>([^<]*)<\/href>/g)].map((m) => m[1]);
  const names = entries.filter((e) => e.path.startsWith('bigdir/') && e.path.split('/').length === 2);
  t.is(hrefs.length, names.length + 1);
  t.is(new Set(hrefs).size, hrefs.length, 'every entry once');
  t.is((xml.match(/<displayname>/g) ?? []).length, names.length + 1);
});
