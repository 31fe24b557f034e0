// Issue 4's benchmark: the same disk image served three ways in one run — `diskarc serve` from an
// archive, `nbdkit file` on the raw image (the ceiling) and `qemu-nbd` on a compressed qcow2 —
// measured with the same clients: nbdcopy sequential read (MiB/s) and fio's nbd engine doing
// random 4 KiB reads at queue depth 16 (IOPS). Prints ratios against the targets, and the serve
// process's RSS while 16 clients read at once (goal: ≤ slab cache budget + 64 MiB). diskarc runs
// with serve's default cache budget (sized to the served data, see docs/serve.md) and once more
// with half of it, so that the miss path (a 4 KiB read decompressing a whole slab) is measured too.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from './run.js';
import { corpusPath, type CorpusSet } from './corpus.js';
import { dropCaches, fmtBytes, fmtRate, fmtRatio, measure, mibPerSecond, printTable, run } from './measure.js';

const MiB = 1024 * 1024;

export interface NbdBenchOptions extends BenchContext {
  /** Seconds fio runs per peer (default 8). */
  fioSeconds?: number;
  /** Slab cache budget given to `diskarc serve` (default: serve's own default, read from its log). */
  cacheMiB?: number;
  log?: (line: string) => void;
}

interface Peer {
  name: string;
  uri: string;
  child: ChildProcess;
  seqCold?: number;
  seqWarm?: number;
  iops?: number;
  error?: string;
  /** Slab cache budget the server reported (diskarc only). */
  cacheBytes?: number;
}

function startDaemon(cmd: string, args: string[], onStderr?: (text: string) => void): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    onStderr?.(d.toString());
    err = (err + d.toString()).slice(-4000);
  });
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

async function waitForServer(uri: string, child: ChildProcess): Promise<void> {
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

async function seqRead(uri: string, size: number): Promise<number> {
  const m = await measure('nbdcopy', [uri, 'null:'], { timeoutSeconds: 1800 });
  return mibPerSecond(size, m.wallSeconds);
}

async function fioNbd(uri: string, size: number, seconds: number, jobs = 1): Promise<number> {
  const out = await run(
    'fio',
    [
      '--name=rand4k',
      '--ioengine=nbd',
      `--uri=${uri}`,
      '--rw=randread',
      '--bs=4k',
      '--iodepth=16',
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
  const json = JSON.parse(out.slice(out.indexOf('{'))) as { jobs: Array<{ read: { iops: number } }> };
  return Number(json.jobs[0]!.read.iops);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export async function runNbdBench(opts: NbdBenchOptions): Promise<void> {
  const log = opts.log ?? console.log;
  for (const set of opts.corpora) await benchSet(opts, set, log);
}

async function benchSet(opts: NbdBenchOptions, set: CorpusSet, log: (line: string) => void): Promise<void> {
  const image = corpusPath(set, 'ext4-v1.img');
  if (!image) {
    log(`nbd bench (${set.label}): ext4-v1.img missing, skipped`);
    return;
  }
  const size = (await stat(image)).size;
  const fioSeconds = opts.fioSeconds ?? 8;
  const work = join(opts.workDir, set.label);
  const archive = join(work, 'archive');
  const qcow2 = join(work, 'image.qcow2');
  await run('mkdir', ['-p', work]);
  log(`nbd bench (${set.label}): packing ${fmtBytes(size)} and converting to compressed qcow2…`);
  await run(process.execPath, [opts.diskarc, 'create', '-a', archive]);
  await run(process.execPath, [opts.diskarc, 'pack', '-a', archive, image, '--name', 'img'], { timeoutSeconds: 3600 });
  await run('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', image, qcow2], { timeoutSeconds: 3600 });

  const sock = (n: string) => join(work, `${n}.sock`);
  const peers: Peer[] = [];
  const serveDiskarc = (name: string, sockName: string, cacheBytes?: number): Peer => {
    const peer: Peer = { name, uri: `nbd+unix:///img?socket=${sock(sockName)}`, child: undefined as unknown as ChildProcess };
    const cacheArgs = cacheBytes !== undefined ? ['--data-cache-size-mib', String(Math.max(1, Math.round(cacheBytes / MiB)))] : [];
    let seen = '';
    // The 'serving' log line carries the cache budget actually in force.
    peer.child = startDaemon(
      process.execPath,
      [opts.diskarc, 'serve', '-a', archive, '-s', 'img', '--nbd-socket', sock(sockName), ...cacheArgs, '--log-level', 'info'],
      (text) => {
        if (peer.cacheBytes !== undefined) return;
        seen = (seen + text).slice(-8192);
        const m = /"cacheBytes":(\d+)/.exec(seen);
        if (m) peer.cacheBytes = Number(m[1]);
      },
    );
    return peer;
  };
  const diskarc = serveDiskarc('diskarc serve', 'diskarc', opts.cacheMiB !== undefined ? opts.cacheMiB * MiB : undefined);
  peers.push(diskarc);
  peers.push({
    name: 'nbdkit file (raw)',
    uri: `nbd+unix:///?socket=${sock('nbdkit')}`,
    child: startDaemon('nbdkit', ['-f', '-r', '-U', sock('nbdkit'), 'file', image]),
  });
  peers.push({
    name: 'qemu-nbd (qcow2, compressed)',
    uri: `nbd+unix:///?socket=${sock('qemu')}`,
    child: startDaemon('qemu-nbd', ['-r', '-t', '-f', 'qcow2', '--shared=32', `--socket=${sock('qemu')}`, qcow2]),
  });
  let rssPeak = 0;
  let rssIdle = 0;
  let rss16Iops: number | undefined;
  try {
    for (const p of peers) {
      try {
        await waitForServer(p.uri, p.child);
        // The runtime's own floor: the serve process with its archive open, before any data is read.
        if (p === diskarc) rssIdle = rssBytes(p.child.pid!);
        await dropCaches();
        p.seqCold = await seqRead(p.uri, size);
        p.seqWarm = await seqRead(p.uri, size);
        p.iops = await fioNbd(p.uri, size, fioSeconds);
        if (p === diskarc) await measureRss16(p);
      } catch (e) {
        p.error = (e as Error).message.split('\n')[0];
      }
    }
    // The miss path: half the default budget, so the image no longer fits (started only now, so
    // the first server's cache is gone and the two never compete for memory).
    await stopDaemon(diskarc.child);
    if (diskarc.cacheBytes !== undefined && opts.cacheMiB === undefined) {
      const half = serveDiskarc(
        `diskarc serve, cache ${fmtBytes(Math.round(diskarc.cacheBytes / 2))}`,
        'diskarc-half',
        Math.round(diskarc.cacheBytes / 2),
      );
      peers.push(half);
      try {
        await waitForServer(half.uri, half.child);
        await dropCaches();
        half.seqCold = await seqRead(half.uri, size);
        half.seqWarm = await seqRead(half.uri, size);
        half.iops = await fioNbd(half.uri, size, fioSeconds);
      } catch (e) {
        half.error = (e as Error).message.split('\n')[0];
      }
    }
  } finally {
    for (const p of peers) await stopDaemon(p.child);
  }

  // 16 clients at once (one fio job = one NBD connection), sampling the serve process's RSS; run
  // after the sequential and random passes so the cache is as full as the budget lets it be.
  async function measureRss16(p: Peer): Promise<void> {
    const pid = p.child.pid!;
    const timer = setInterval(() => {
      rssPeak = Math.max(rssPeak, existsSync(`/proc/${pid}`) ? rssBytes(pid) : 0);
    }, 100);
    try {
      rss16Iops = await fioNbd(p.uri, size, fioSeconds, 16);
    } finally {
      clearInterval(timer);
    }
  }

  const [d, kit, qemu] = peers as [Peer, Peer, Peer];
  printTable(
    `nbd (${set.label}): ${fmtBytes(size)} ext4 image — nbdcopy to null: (cold = page cache dropped, warm = second pass), fio ` +
      `nbd engine randread 4 KiB QD16 ${fioSeconds} s`,
    [
      'server',
      { header: 'seq cold', align: 'right' },
      { header: 'seq warm', align: 'right' },
      { header: 'rand 4K IOPS', align: 'right' },
      'note',
    ],
    peers.map((p) => [p.name, fmtRate(p.seqCold), fmtRate(p.seqWarm), p.iops !== undefined ? p.iops.toFixed(0) : '-', p.error ?? '']),
    log,
  );
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'NOT met');
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const seqVsKit = ratio(d.seqWarm, kit.seqWarm);
  const seqVsQemu = ratio(d.seqWarm, qemu.seqWarm);
  const randVsQemu = ratio(d.iops, qemu.iops);
  log(
    `  sequential (warm) diskarc / nbdkit file: ${fmtRatio(d.seqWarm, kit.seqWarm)} (target ≥ 0.5: ` +
      `${verdict(seqVsKit === undefined ? undefined : seqVsKit >= 0.5)})`,
  );
  log(
    `  sequential (warm) diskarc / qemu-nbd qcow2: ${fmtRatio(d.seqWarm, qemu.seqWarm)} (target ≥ 2: ` +
      `${verdict(seqVsQemu === undefined ? undefined : seqVsQemu >= 2)})`,
  );
  log(
    `  random 4K IOPS diskarc / qemu-nbd qcow2: ${fmtRatio(d.iops, qemu.iops)} (target ≥ 1: ` +
      `${verdict(randVsQemu === undefined ? undefined : randVsQemu >= 1)})`,
  );
  log(`  random 4K IOPS diskarc / nbdkit file: ${fmtRatio(d.iops, kit.iops)}`);
  const half = peers[3];
  if (half)
    log(
      `  with half the cache (${half.name}): sequential warm / nbdkit file ${fmtRatio(half.seqWarm, kit.seqWarm)}, random 4K / ` +
        `qemu-nbd qcow2 ${fmtRatio(half.iops, qemu.iops)}`,
    );
  if (rssPeak > 0) {
    const budget = d.cacheBytes;
    const goal = budget !== undefined ? budget + 64 * MiB : undefined;
    log(
      `  serve RSS with 16 clients (fio numjobs=16 QD16, ${rss16Iops?.toFixed(0) ?? '-'} IOPS total): peak ${fmtBytes(rssPeak)} ` +
        `(goal ≤ cache budget ${budget !== undefined ? fmtBytes(budget) : '?'} + 64 MiB: ` +
        `${verdict(goal === undefined ? undefined : rssPeak <= goal)}` +
        `${goal !== undefined ? `, ${fmtBytes(rssPeak - budget!)} over the budget` : ''})`,
    );
    if (rssIdle > 0 && goal !== undefined) {
      log(
        `  serve RSS before the first read (Node runtime + open archive): ${fmtBytes(rssIdle)}; growth while serving ` +
          `${fmtBytes(rssPeak - rssIdle)} ` +
          `(≤ cache budget + 64 MiB: ${verdict(rssPeak - rssIdle <= goal)})`,
      );
    }
  }
}
