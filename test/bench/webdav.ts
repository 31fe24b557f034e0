// Issue 15's benchmark: the WebDAV share against `rclone serve webdav --read-only` and nginx with
// libnginx-mod-http-dav-ext, on the same bytes in one run. Full GET of disk.img (warm, median of
// 3) beside the peers serving the raw image from a plain directory; a 16 MiB ranged GET at the
// end of the largest image vs one at its start; PROPFIND Depth 1 of the NTFS volume's largest
// directory and `rclone copy` of its tree (files/s) beside rclone serving the same files
// extracted to a directory. Ratios and the targets are printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { link, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { BenchContext } from './run.js';
import { corpusPath, type CorpusSet } from './corpus.js';
import { fmtBytes, fmtRate, fmtRatio, fmtSeconds, measure, mibPerSecond, printTable, run } from './measure.js';

const MiB = 1024 * 1024;
const ROUNDS = 3;
const NGINX_MODULE = '/usr/lib/nginx/modules/ngx_http_dav_ext_module.so';

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

class Daemons {
  private readonly children: ChildProcess[] = [];
  start(cmd: string, args: string[]): ChildProcess {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.resume();
    child.stderr!.resume();
    this.children.push(child);
    return child;
  }
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map((c) =>
        c.exitCode !== null
          ? undefined
          : new Promise((r) => {
              c.once('exit', r);
              c.kill('SIGTERM');
            }),
      ),
    );
  }
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const code = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'OPTIONS', url], { check: false }).catch(
      () => '000',
    );
    if (code !== '000') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer`);
}

/** Seconds of one curl GET (optionally ranged) to /dev/null. */
async function curlSeconds(url: string, range?: string): Promise<number> {
  const m = await measure('curl', ['-sS', '-o', '/dev/null', ...(range ? ['-r', range] : []), url], { timeoutSeconds: 600 });
  return m.wallSeconds;
}

async function startDiskarc(d: Daemons, diskarc: string, archive: string): Promise<string> {
  const child = d.start('node', [diskarc, 'serve', '-a', archive, '--webdav', '127.0.0.1:0', '--json', '--log-level', 'warn']);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.removeAllListeners('data');
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`diskarc serve exited ${code}`)));
  });
  return (JSON.parse(line) as { listening: Array<{ protocol: string; uri: string }> }).listening.find((l) => l.protocol === 'webdav')!.uri;
}

async function startRclone(d: Daemons, dir: string): Promise<string> {
  const port = await freePort();
  d.start('rclone', ['--config', '/dev/null', 'serve', 'webdav', '--read-only', '--addr', `127.0.0.1:${port}`, dir]);
  const url = `http://127.0.0.1:${port}/`;
  await waitHttp(url);
  return url;
}

async function startNginx(d: Daemons, work: string, dir: string): Promise<string> {
  const port = await freePort();
  const conf = join(work, 'nginx.conf');
  const tmp = join(work, 'nginx-tmp');
  await mkdir(tmp, { recursive: true });
  await writeFile(
    conf,
    `load_module ${NGINX_MODULE};
daemon off; master_process off; worker_processes 1; pid ${join(work, 'nginx.pid')}; error_log ${join(work, 'nginx-error.log')};
events { worker_connections 256; }
http {
  access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp};
  uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  server { listen 127.0.0.1:${port}; root ${dir}; dav_ext_methods PROPFIND OPTIONS; autoindex off; }
}
`,
  );
  d.start('nginx', ['-c', conf, '-p', work]);
  const url = `http://127.0.0.1:${port}/`;
  await waitHttp(url);
  return url;
}

/** The directory with the most entries in a rclone listing ("a/b/" lines are directories). */
function largestDirectory(lines: string[]): { dir: string; entries: number } {
  const counts = new Map<string, number>();
  for (const l of lines) {
    const p = l.endsWith('/') ? l.slice(0, -1) : l;
    const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    counts.set(parent, (counts.get(parent) ?? 0) + 1);
  }
  let best = { dir: '', entries: 0 };
  for (const [dir, entries] of counts) if (entries > best.entries) best = { dir, entries };
  return best;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

async function benchSet(ctx: BenchContext, set: CorpusSet, log: (l: string) => void): Promise<void> {
  const image = corpusPath(set, 'ext4-v1.img') ?? corpusPath(set, 'random.bin');
  // Uniform data everywhere (random.bin), so the start and the end of the image cost the same to decode.
  const big = corpusPath(set, 'random.bin') ?? image;
  const ntfs = corpusPath(set, 'ntfs.img');
  if (!image || !big) {
    log(`${set.label}: no image to serve; skipped`);
    return;
  }
  const work = join(ctx.workDir, set.label);
  const plain = join(work, 'plain');
  await mkdir(plain, { recursive: true });
  // The peers serve the raw images from a plain directory (hard links: same bytes, no copy).
  await link(image, join(plain, 'disk.img'));
  if (big !== image) await link(big, join(plain, 'big.img'));
  const archive = join(work, 'archive');
  await run('node', [ctx.diskarc, 'create', '-a', archive]);
  await run('node', [ctx.diskarc, 'pack', '-a', archive, image, '--name', 'disk', '--no-verify'], { timeoutSeconds: 3600 });
  if (big !== image) await run('node', [ctx.diskarc, 'pack', '-a', archive, big, '--name', 'big', '--no-verify'], { timeoutSeconds: 3600 });
  if (ntfs) await run('node', [ctx.diskarc, 'pack', '-a', archive, ntfs, '--name', 'ntfs', '--no-verify'], { timeoutSeconds: 3600 });
  const size = (await stat(image)).size;
  const bigSize = (await stat(big)).size;

  const d = new Daemons();
  try {
    const dav = await startDiskarc(d, ctx.diskarc, archive);
    const rcloneUrl = await startRclone(d, plain);
    const nginxUrl = await startNginx(d, work, plain);

    // Ranged GETs first, while the big stream is cold in the slab cache.
    const bigUrl = `${dav}${big !== image ? 'big' : 'disk'}/disk.img`;
    await curlSeconds(bigUrl, `${Math.floor(bigSize / 2)}-${Math.floor(bigSize / 2)}`); // opens the stream (its map), away from both ends
    const startRange = await curlSeconds(bigUrl, `0-${16 * MiB - 1}`);
    const endRange = await curlSeconds(bigUrl, `${bigSize - 16 * MiB}-`);
    printTable(
      `${set.label}: 16 MiB ranged GET of a ${fmtBytes(bigSize)} stream (each end cold in the slab cache)`,
      ['where', 'seconds'],
      [
        ['start', fmtSeconds(startRange)],
        ['end', fmtSeconds(endRange)],
        ['end / start (target ≤ 1.5)', fmtRatio(endRange, startRange)],
      ],
      log,
    );

    const peers: Array<[string, string]> = [
      ['diskarc serve --webdav', `${dav}disk/disk.img`],
      ['rclone serve webdav --read-only', `${rcloneUrl}disk.img`],
      ['nginx + dav-ext', `${nginxUrl}disk.img`],
    ];
    const rates = new Map<string, number>();
    for (const [, url] of peers) await curlSeconds(url); // warm every peer once
    const runs = new Map<string, number[]>(peers.map(([l]) => [l, []]));
    for (let r = 0; r < ROUNDS; r++) for (const [label, url] of peers) runs.get(label)!.push(mibPerSecond(size, await curlSeconds(url)));
    for (const [label] of peers) rates.set(label, median(runs.get(label)!)!);
    const ours = rates.get(peers[0]![0])!;
    printTable(
      `${set.label}: full GET of a ${fmtBytes(size)} image, warm, median of ${ROUNDS} (MiB/s)`,
      ['server', 'MiB/s', 'diskarc / it'],
      peers.map(([l]) => [l, fmtRate(rates.get(l)), l === peers[0]![0] ? '' : fmtRatio(ours, rates.get(l))]),
      log,
    );
    log(`  targets: ≥ 1.00× rclone, ≥ 0.80× nginx`);

    if (ntfs) {
      const listing = (
        await run('rclone', ['--config', '/dev/null', '--webdav-url', dav, 'lsf', '-R', ':webdav:ntfs/fs'], { timeoutSeconds: 600 })
      )
        .split('\n')
        .filter(Boolean);
      const largest = largestDirectory(listing);
      const extracted = join(work, 'extracted');
      await run('node', [ctx.diskarc, 'extract', '-a', archive, '-s', 'ntfs', '/', extracted], { timeoutSeconds: 3600, check: false });
      const rcloneFiles = await startRclone(d, extracted);
      const dirPath = largest.dir === '' ? '' : largest.dir.split('/').map(encodeURIComponent).join('/') + '/';
      const propfind = async (url: string): Promise<{ seconds: number; bytes: number }> => {
        const m = await measure('curl', ['-sS', '-X', 'PROPFIND', '-H', 'Depth: 1', url], { timeoutSeconds: 600 });
        return { seconds: m.wallSeconds, bytes: Buffer.byteLength(m.stdout) };
      };
      const pf: Array<[string, { seconds: number; bytes: number }]> = [];
      for (const [label, url] of [
        ['diskarc', `${dav}ntfs/fs/${dirPath}`],
        ['rclone serve', `${rcloneFiles}${dirPath}`],
      ] as const) {
        await propfind(url);
        const s = [];
        for (let r = 0; r < ROUNDS; r++) s.push(await propfind(url));
        pf.push([label, { seconds: median(s.map((x) => x.seconds))!, bytes: s[0]!.bytes }]);
      }
      printTable(
        `${set.label}: PROPFIND Depth 1 of the NTFS volume's largest directory (/${largest.dir}, ${largest.entries} entries), warm`,
        ['server', 'seconds', 'bytes', 'rclone / it'],
        pf.map(([l, x]) => [l, fmtSeconds(x.seconds), String(x.bytes), l === 'diskarc' ? fmtRatio(pf[1]![1].seconds, x.seconds) : '']),
        log,
      );
      const copies: Array<[string, number]> = [];
      for (const [label, url, path] of [
        ['diskarc', dav, ':webdav:ntfs/fs'],
        ['rclone serve', rcloneFiles, ':webdav:'],
      ] as const) {
        const out = join(work, `copy-${label.replace(/\W/g, '')}`);
        const m = await measure('rclone', ['--config', '/dev/null', '--webdav-url', url, 'copy', path, out], {
          timeoutSeconds: 3600,
          check: false,
        });
        copies.push([label, (await countFiles(out).catch(() => 0)) / m.wallSeconds]);
      }
      printTable(
        `${set.label}: rclone copy of the NTFS tree (files/s)`,
        ['server', 'files/s', 'diskarc / it'],
        copies.map(([l, v]) => [l, v.toFixed(0), l === 'diskarc' ? '' : fmtRatio(copies[0]![1], v)]),
        log,
      );
      log('  targets: PROPFIND and copy within 1.5× of rclone');
    }
  } finally {
    await d.stop();
  }
}

export async function runWebDavBench(ctx: BenchContext, log: (l: string) => void = console.log): Promise<void> {
  for (const set of ctx.corpora) await benchSet(ctx, set, log);
}
