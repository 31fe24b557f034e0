// 32 parallel clients download random ranges of several archived streams for a bounded time:
// every byte is compared with the image, and the server's peak RSS stays within the slab cache
// budget plus a fixed overhead (reported).
import test from 'ava';
import { Agent, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededBytes } from '../../archive/harness.js';
import { makeSparseImage, packArchive } from '../../fs/fuse/helpers.js';
import { memoryOf, startDavServe, type DavServe } from './helpers.js';

const CLIENTS = 32;
const SECONDS = 6;
const CACHE_MIB = 64;
/** Node's runtime and serving's own buffers, measured at 100–150 MiB for NBD (docs/serve.md). */
const OVERHEAD_MIB = 200;
const MiB = 1024 * 1024;

let dir: string;
let serve: DavServe;
const images: Array<{ name: string; bytes: Buffer }> = [];

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'diskarc-webdav-load-'));
  const inputs = [];
  for (let i = 0; i < 3; i++) {
    // 48 MiB of seeded data per stream (incompressible), plus a hole, so reads span many slabs.
    const path = join(dir, `s${i}.img`);
    await makeSparseImage(path, 64 * MiB, [0], 48 * MiB, 500 + i * 10);
    const bytes = Buffer.alloc(64 * MiB);
    seededBytes(48 * MiB, 500 + i * 10).copy(bytes, 0);
    images.push({ name: `s${i}`, bytes });
    inputs.push({ path, name: `s${i}` });
  }
  const archive = await packArchive(dir, inputs);
  serve = await startDavServe(['-a', archive, '--data-cache-size-mib', String(CACHE_MIB)]);
});

test.after.always(async () => {
  if (serve) await serve.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function get(agent: Agent, url: string, range: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { Range: range } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('32 clients reading random ranges of 3 streams: every byte right, RSS within budget + overhead', async (t) => {
  const deadline = Date.now() + SECONDS * 1000;
  let requests = 0;
  let bytes = 0;
  let wrong = 0;
  let peakSample = 0;
  const sampler = setInterval(() => {
    void memoryOf(serve.pid).then((m) => (peakSample = Math.max(peakSample, m.rss)), () => {});
  }, 200);
  const client = async (c: number): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let seed = c * 7919 + 1;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    try {
      while (Date.now() < deadline) {
        const img = images[rand(images.length)]!;
        const length = 1 + rand(c % 4 === 0 ? 8 * MiB : 256 * 1024);
        const start = rand(img.bytes.length - length);
        const r = await get(agent, `${serve.uri}${img.name}/disk.img`, `bytes=${start}-${start + length - 1}`);
        requests++;
        bytes += r.body.length;
        if (r.status !== 206 || !r.body.equals(img.bytes.subarray(start, start + length))) wrong++;
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  clearInterval(sampler);
  const mem = await memoryOf(serve.pid);
  const peak = Math.max(mem.peak, peakSample);
  t.log(`${requests} ranged GETs, ${(bytes / MiB).toFixed(0)} MiB in ${SECONDS} s by ${CLIENTS} clients; server peak RSS ${(peak / MiB).toFixed(0)} MiB (cache budget ${CACHE_MIB} MiB)`);
  t.is(wrong, 0);
  t.true(requests > CLIENTS * 3, `${requests} requests`);
  t.true(peak < (CACHE_MIB + OVERHEAD_MIB) * MiB, `peak RSS ${(peak / MiB).toFixed(0)} MiB`);
});
