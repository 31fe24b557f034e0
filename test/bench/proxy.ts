// Issue 17's benchmark: the range proxy (IMDPROXY) measured as the ImDisk driver uses it — one
// request at a time per connection — beside the same stream over diskarc's NBD (same process,
// same slab cache), `nbdkit file` on the raw image and `qemu-nbd` on a compressed qcow2, in one
// run: sequential MiB/s with 1 MiB requests and random 4 KiB reads/s with 1 and 8 connections.
// Targets: proxy sequential ≥ 0.7 × diskarc NBD single connection (nbdcopy -C 1); proxy random
// 4 KiB at 8 connections ≥ qemu-nbd qcow2 as the NBD bench measures it (fio QD16).
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from './run.js';
import { corpusPath, type CorpusSet } from './corpus.js';
import { dropCaches, fmtBytes, fmtRate, fmtRatio, measure, mibPerSecond, printTable, run } from './measure.js';
import { connect, type Socket } from 'node:net';

const MiB = 1024 * 1024;

export interface ProxyBenchOptions extends BenchContext {
  /** Seconds each random-read measurement runs (default $BENCH_PROXY_SECONDS or 8). */
  seconds?: number;
  log?: (line: string) => void;
}

interface Row {
  what: string;
  seq?: number;
  rand1?: number;
  rand8?: number;
  note?: string;
}

function startDaemon(cmd: string, args: string[], stdout: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', stdout, 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.on('exit', (code, signal) => {
    if (code && signal === null) process.stderr.write(`${cmd} exited ${code}: ${err}\n`);
  });
  return child;
}

async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** `diskarc serve --json` prints one ready line with the bound ports. */
function readyLine(child: ChildProcess): Promise<{ listening: Array<{ protocol: string; port?: number }> }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('diskarc serve not ready after 120 s')), 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as { listening: Array<{ protocol: string; port?: number }> });
      }
    });
    child.once('exit', (code) => reject(new Error(`diskarc serve exited (${code}) before serving`)));
  });
}

async function waitForNbd(uri: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before serving ${uri}`);
    const ok = await run('nbdinfo', ['--size', uri], { check: false, timeoutSeconds: 10 }).then(
      (o) => /^\d+/.test(o.trim()),
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${uri}`);
}

/**
 * A minimal IMDPROXY reader for measuring the server rather than the client: the socket reads
 * into one preallocated 4 MiB buffer (net's `onread`, so a reply arrives in few large reads, not
 * 64 KiB pieces), data are counted and dropped. One request at a time, as the driver.
 */
class CountingClient {
  private header = Buffer.alloc(16);
  private headerFill = 0;
  private dataLeft = 0;
  private length = 0;
  private done: ((n: number) => void) | undefined;
  private fail: ((e: Error) => void) | undefined;
  private readonly request = Buffer.alloc(24);

  private constructor(private readonly socket: Socket) {}

  static connect(port: number): Promise<CountingClient> {
    return new Promise((resolve, reject) => {
      let client: CountingClient | undefined;
      const socket = connect({
        host: '127.0.0.1',
        port,
        noDelay: true,
        onread: {
          buffer: Buffer.allocUnsafe(4 * MiB),
          callback: (n: number, buf: Uint8Array) => {
            client!.consume(buf, n);
            return true;
          },
        },
      });
      client = new CountingClient(socket);
      socket.once('connect', () => resolve(client!));
      socket.once('error', reject);
      socket.on('close', () => client!.fail?.(new Error('connection closed')));
    });
  }

  /** Resolves with the data length of the reply; rejects on an error reply. */
  read(offset: number, length: number): Promise<number> {
    this.request.writeBigUInt64LE(2n, 0);
    this.request.writeBigUInt64LE(BigInt(offset), 8);
    this.request.writeBigUInt64LE(BigInt(length), 16);
    this.headerFill = 0;
    this.dataLeft = -1;
    return new Promise((resolve, reject) => {
      this.done = resolve;
      this.fail = reject;
      this.socket.write(this.request);
    });
  }

  private consume(buf: Uint8Array, n: number): void {
    let at = 0;
    if (this.headerFill < 16) {
      const k = Math.min(16 - this.headerFill, n);
      this.header.set(buf.subarray(0, k), this.headerFill);
      this.headerFill += k;
      at = k;
      if (this.headerFill < 16) return;
      if (this.header.readBigUInt64LE(0) !== 0n) {
        this.fail?.(new Error(`errorno ${this.header.readBigUInt64LE(0)}`));
        return;
      }
      this.length = Number(this.header.readBigUInt64LE(8));
      this.dataLeft = this.length;
    }
    this.dataLeft -= n - at;
    if (this.dataLeft === 0) this.done?.(this.length);
  }

  close(): void {
    this.socket.end(Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]));
  }
}

/** The whole image in 1 MiB READs, one at a time, as the driver issues them. */
async function proxySequential(port: number, size: number): Promise<number> {
  const c = await CountingClient.connect(port);
  const t0 = performance.now();
  for (let off = 0; off < size; off += MiB) {
    const want = Math.min(MiB, size - off);
    if ((await c.read(off, want)) !== want) throw new Error(`short proxy read at ${off}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  c.close();
  return mibPerSecond(size, seconds);
}

/** Random 4 KiB READs on `connections` connections, each one at a time, for `seconds`; reads/s. */
async function proxyRandom(port: number, size: number, connections: number, seconds: number): Promise<number> {
  const blocks = Math.floor(size / 4096);
  const end = performance.now() + seconds * 1000;
  let reads = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, i) => {
      const c = await CountingClient.connect(port);
      let x = (0x9e3779b9 + i * 7919) >>> 0;
      while (performance.now() < end) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        if ((await c.read((x % blocks) * 4096, 4096)) !== 4096) throw new Error('short proxy read');
        reads++;
      }
      c.close();
    }),
  );
  return reads / ((performance.now() - t0) / 1000);
}

async function fio(
  uri: string,
  size: number,
  seconds: number,
  bs: string,
  rw: string,
  jobs: number,
  depth: number,
): Promise<{ iops: number; mibps: number }> {
  const out = await run(
    'fio',
    [
      '--name=proxybench',
      '--ioengine=nbd',
      `--uri=${uri}`,
      `--rw=${rw}`,
      `--bs=${bs}`,
      `--iodepth=${depth}`,
      `--numjobs=${jobs}`,
      `--size=${size}`,
      '--time_based',
      `--runtime=${seconds}`,
      '--group_reporting',
      '--output-format=json',
      '--randrepeat=1',
      '--norandommap',
    ],
    { timeoutSeconds: seconds + 120 },
  );
  const json = JSON.parse(out.slice(out.indexOf('{'))) as { jobs: Array<{ read: { iops: number; bw_bytes: number } }> };
  return { iops: Number(json.jobs[0]!.read.iops), mibps: Number(json.jobs[0]!.read.bw_bytes) / MiB };
}

async function nbdcopyOne(uri: string, size: number): Promise<number> {
  const m = await measure('nbdcopy', ['--connections=1', uri, 'null:'], { timeoutSeconds: 1800 });
  return mibPerSecond(size, m.wallSeconds);
}

export async function runProxyBench(opts: ProxyBenchOptions): Promise<void> {
  const log = opts.log ?? console.log;
  for (const set of opts.corpora) await benchSet(opts, set, log);
}

async function benchSet(opts: ProxyBenchOptions, set: CorpusSet, log: (line: string) => void): Promise<void> {
  const image = corpusPath(set, 'ext4-v1.img');
  if (!image) {
    log(`proxy bench (${set.label}): ext4-v1.img missing, skipped`);
    return;
  }
  const size = (await stat(image)).size;
  const seconds = opts.seconds ?? Number(process.env.BENCH_PROXY_SECONDS ?? 8);
  const work = join(opts.workDir, set.label);
  const archive = join(work, 'archive');
  const qcow2 = join(work, 'image.qcow2');
  await run('mkdir', ['-p', work]);
  log(`proxy bench (${set.label}): packing ${fmtBytes(size)} and converting to compressed qcow2…`);
  await run(process.execPath, [opts.diskarc, 'create', '-a', archive]);
  await run(process.execPath, [opts.diskarc, 'pack', '-a', archive, image, '--name', 'img'], { timeoutSeconds: 3600 });
  await run('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', image, qcow2], { timeoutSeconds: 3600 });

  const rows: Row[] = [];
  const proxyRow: Row = { what: 'diskarc range proxy (TCP)' };
  const nbdRow: Row = { what: 'diskarc NBD (TCP, same process)' };
  const kitRow: Row = { what: 'nbdkit file (raw, TCP)' };
  const qemuRow: Row = { what: 'qemu-nbd (qcow2, compressed, TCP)' };
  let qemuQd16: number | undefined;
  let nbdOneAtATime: number | undefined;
  let proxyCold: number | undefined;
  rows.push(proxyRow, nbdRow, kitRow, qemuRow);

  // One serve process with both protocols on the same stream: the two read through one cache.
  const serve = startDaemon(
    process.execPath,
    [opts.diskarc, 'serve', '--json', '-a', archive, '--proxy', '127.0.0.1:0', '-s', 'img', '--nbd', '127.0.0.1:0', '--log-level', 'warn'],
    'pipe',
  );
  const daemons: ChildProcess[] = [serve];
  try {
    const ready = await readyLine(serve);
    const proxyPort = ready.listening.find((l) => l.protocol === 'proxy')!.port!;
    const nbdUri = `nbd://127.0.0.1:${ready.listening.find((l) => l.protocol === 'nbd')!.port!}/img`;
    try {
      await dropCaches();
      proxyCold = await proxySequential(proxyPort, size);
      proxyRow.seq = await proxySequential(proxyPort, size);
      proxyRow.rand1 = await proxyRandom(proxyPort, size, 1, seconds);
      proxyRow.rand8 = await proxyRandom(proxyPort, size, 8, seconds);
    } catch (e) {
      proxyRow.note = (e as Error).message.split('\n')[0];
    }
    try {
      nbdRow.seq = await nbdcopyOne(nbdUri, size);
      nbdOneAtATime = (await fio(nbdUri, size, seconds, '1M', 'read', 1, 1)).mibps;
      nbdRow.rand1 = (await fio(nbdUri, size, seconds, '4k', 'randread', 1, 1)).iops;
      nbdRow.rand8 = (await fio(nbdUri, size, seconds, '4k', 'randread', 8, 1)).iops;
    } catch (e) {
      nbdRow.note = (e as Error).message.split('\n')[0];
    }
    await stopDaemon(serve);

    const port = 20000 + Math.floor(Math.random() * 20000);
    const peers: Array<[Row, string, string[]]> = [
      [kitRow, 'nbdkit', ['-f', '-r', '-i', '127.0.0.1', '-p', String(port), 'file', image]],
      [qemuRow, 'qemu-nbd', ['-r', '-t', '-f', 'qcow2', '--shared=32', '-b', '127.0.0.1', '-p', String(port + 1), qcow2]],
    ];
    for (const [row, cmd, args] of peers) {
      const child = startDaemon(cmd, args);
      daemons.push(child);
      const uri = `nbd://127.0.0.1:${cmd === 'nbdkit' ? port : port + 1}/`;
      try {
        await waitForNbd(uri, child);
        await nbdcopyOne(uri, size); // warm the page cache as the others are warm
        row.seq = await nbdcopyOne(uri, size);
        row.rand1 = (await fio(uri, size, seconds, '4k', 'randread', 1, 1)).iops;
        row.rand8 = (await fio(uri, size, seconds, '4k', 'randread', 8, 1)).iops;
        if (row === qemuRow) qemuQd16 = (await fio(uri, size, seconds, '4k', 'randread', 1, 16)).iops;
      } catch (e) {
        row.note = (e as Error).message.split('\n')[0];
      }
      await stopDaemon(child);
    }
  } finally {
    for (const d of daemons) await stopDaemon(d);
  }

  printTable(
    `proxy (${set.label}): ${fmtBytes(size)} ext4 image over TCP — sequential warm (proxy: 1 MiB READs one at a time; NBD: ` +
      `nbdcopy --connections=1), random 4 KiB reads/s with 1 and 8 connections, one request at a time each (NBD: fio nbd engine ` +
      `QD1), ${seconds} s each`,
    [
      'server',
      { header: 'seq MiB/s', align: 'right' },
      { header: '4K/s ×1', align: 'right' },
      { header: '4K/s ×8', align: 'right' },
      'note',
    ],
    rows.map((r) => [r.what, fmtRate(r.seq), r.rand1?.toFixed(0) ?? '-', r.rand8?.toFixed(0) ?? '-', r.note ?? '']),
    log,
  );
  const verdict = (a?: number, b?: number, target = 1) =>
    a === undefined || b === undefined || b <= 0 ? 'n/a' : a / b >= target ? 'met' : 'NOT met';
  log(`  proxy sequential, first pass after dropping the page cache (fresh server): ${fmtRate(proxyCold)} MiB/s`);
  log(
    `  proxy sequential / diskarc NBD single connection (nbdcopy -C 1): ${fmtRatio(proxyRow.seq, nbdRow.seq)} (target ≥ 0.7: ` +
      `${verdict(proxyRow.seq, nbdRow.seq, 0.7)})`,
  );
  log(`  proxy sequential / diskarc NBD 1 MiB one at a time (fio QD1, like for like): ${fmtRatio(proxyRow.seq, nbdOneAtATime)}`);
  log(
    `  proxy random 4K ×8 / qemu-nbd qcow2 (fio QD16, as the NBD bench measures it: ${qemuQd16?.toFixed(0) ?? '-'}/s): ` +
      `${fmtRatio(proxyRow.rand8, qemuQd16)} (target ≥ 1: ${verdict(proxyRow.rand8, qemuQd16)})`,
  );
  log(`  proxy random 4K ×8 / qemu-nbd qcow2 ×8 QD1 (like for like): ${fmtRatio(proxyRow.rand8, qemuRow.rand8)}`);
  log(
    `  proxy random 4K ×8 / diskarc NBD ×8 QD1: ${fmtRatio(proxyRow.rand8, nbdRow.rand8)}; ×1: ${fmtRatio(proxyRow.rand1, nbdRow.rand1)}`,
  );
}
