// davfs2 (the kernel-mounted WebDAV client) on an archived NTFS volume: mounted read-only with
// `use_locks 0`, its recursive listing (names, types, file sizes) equals the FUSE mount's, and a
// file read through it has the Sleuth Kit oracle's sha256. The configuration is written here:
// `buf_size 64` because davfs2 < 1.7.2 answers every READDIR with EINVAL on Linux ≥ 6.16, whose
// readdir requests outgrow davfs2's default 16 KiB buffer (docs/webdav.md).
import test from 'ava';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ntfsFixtures, type OracleEntry } from '../../fixtures/ntfs/fixtures.js';
import { isMounted, packArchive, startMount, type RunningMount } from '../../fs/fuse/helpers.js';
import { mustSh, sh, startDavServe, type DavServe } from './helpers.js';

let dir: string;
let serve: DavServe;
let mount: RunningMount;
let davMp: string;
let entries: OracleEntry[];

test.before(async () => {
  const fx = await ntfsFixtures();
  const c4k = fx.images.find((i) => i.name === 'c4k');
  if (!c4k) throw new Error('NTFS fixture c4k missing');
  entries = c4k.oracle.entries;
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-davfs2-'));
  // mount.davfs drops to the davfs2 user once mounted: it must reach the mount point.
  await chmod(dir, 0o755);
  const archive = await packArchive(dir, [{ path: c4k.image, name: 'vol' }]);
  serve = await startDavServe(['-a', archive]);
  mount = await startMount(archive, join(dir, 'fuse'));
  davMp = join(dir, 'dav');
  await mkdir(davMp);
  const conf = join(dir, 'davfs2.conf');
  // No LOCK on a read-only share; no credentials to ask for (stdin is closed: davfs2 would abort).
  await writeFile(conf, 'use_locks 0\nask_auth 0\nbuf_size 64\n');
  await mustSh(`timeout 60 mount.davfs -o ro,conf=${conf} '${serve.uri}' ${davMp} </dev/null`, { timeoutMs: 70_000 });
  if (!(await isMounted(davMp))) throw new Error('mount.davfs returned but nothing is mounted');
});

test.after.always(async () => {
  if (davMp && (await isMounted(davMp))) await sh(`umount ${davMp}`, { timeoutMs: 60_000 });
  if (serve) await serve.stop();
  if (mount) await mount.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every directory and file under `root` with its type, files with their size; symlinks are not shared. */
async function listing(root: string, skipTop: string[] = []): Promise<string[]> {
  const prune = skipTop.map((n) => `-path ./${n} -prune -o`).join(' ');
  const out = await mustSh(`cd ${JSON.stringify(root)} && find . -mindepth 1 ${prune} \\( -type d -printf '%P/\\0' \\) -o \\( -type f -printf '%P|%s\\0' \\)`, { timeoutMs: 300_000 });
  return out.split('\0').filter(Boolean).sort();
}

test.serial('the davfs2 mount lists exactly what the FUSE mount lists', async (t) => {
  // davfs2 adds its own lost+found (backup_dir) at the root of the mount.
  const dav = await listing(davMp, ['lost+found']);
  const local = await listing(mount.mp);
  t.true(local.length > 3000, `${local.length} entries`);
  t.true(local.some((p) => /[^\x00-\x7f]/.test(p)), 'Unicode names are part of the comparison');
  t.deepEqual(dav, local);
});

test.serial('a file read through davfs2 has the oracle\'s sha256', async (t) => {
  const target = entries.find((e) => e.type === 'file' && e.path.startsWith('basic/') && e.size > 100_000 && e.sha256)!;
  const bytes = await readFile(join(davMp, 'vol', 'fs', target.path));
  t.is(bytes.length, target.size);
  t.is(createHash('sha256').update(bytes).digest('hex'), target.sha256!);
});
