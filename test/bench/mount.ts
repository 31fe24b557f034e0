// Issue 6's benchmark: reading an archived image through `diskarc mount` against what a user
// would mount instead — the same stream over NBD (diskarc serve), ewfmount of an E01 made by
// ewfacquire with compression, squashfuse of a zstd squashfs holding the image — and copying a
// tree of small files out of an NTFS volume (p1/ or fs/) beside ntfs-3g on the raw image.
// Same bytes, one run, page cache dropped before every cold measurement; sequential reads and
// copies in alternating rounds (median reported), as this VM drifts between minutes; ratios and
// targets printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from './run.js';
import { corpusPath, type CorpusSet } from './corpus.js';
import { dropCaches, fmtBytes, fmtRate, fmtRatio, fmtSeconds, measure, mibPerSecond, printTable, run } from './measure.js';

export interface MountBenchOptions extends BenchContext {
  /** Seconds fio runs per peer (default 8). */
  fioSeconds?: number;
  log?: (line: string) => void;
}

/** One thing read in the bench: set up once, then measured in alternating rounds. */
interface Peer {
  label: string;
  /** One sequential pass with cold caches, in MiB/s. */
  seq?: () => Promise<number>;
  /** Random 4 KiB reads/s. */
  rand?: () => Promise<number>;
  /** Compares the bytes read with the image (after the timings: cmp warms caches). */
  verify?: () => Promise<void>;
  note?: string;
  error?: string;
  seqRuns: number[];
  randIops?: number;
}

/** Sequential passes per peer; the median is reported. This VM moves a single figure by 10–25 %. */
const SEQ_ROUNDS = 3;

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function errorLine(e: unknown): string {
  return (e as Error).message.split('\n')[0];
}

async function waitFor(pred: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function mounted(mp: string): Promise<boolean> {
  return (await readFile('/proc/mounts', 'utf8')).split('\n').some((l) => l.split(' ')[1] === mp);
}

/** Background servers and mounts started by the bench, torn down in reverse order. */
class Stack {
  private undo: Array<() => Promise<void>> = [];
  push(fn: () => Promise<void>): void {
    this.undo.push(fn);
  }
  async unwind(): Promise<void> {
    for (const fn of this.undo.reverse()) await fn().catch(() => {});
    this.undo = [];
  }
}

function startDaemon(stack: Stack, cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout!.resume();
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  child.on('exit', (code) => {
    if (code) process.stderr.write(`${cmd} exited ${code}: ${err}\n`);
  });
  stack.push(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
  return child;
}

/**
 * Mounts with a FUSE daemon and waits until the mount is listed — and, for daemons that print
 * `readyText` once they have also tuned the connection (diskarc's), until they say so.
 */
async function fuseMount(stack: Stack, mp: string, cmd: string, args: string[], readyText?: string): Promise<void> {
  await mkdir(mp, { recursive: true });
  const child = startDaemon(stack, cmd, args);
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  stack.push(async () => {
    if (await mounted(mp)) await run('fusermount3', ['-u', '-z', mp], { check: false });
  });
  await waitFor(() => mounted(mp), `${cmd} on ${mp}`);
  if (readyText) await waitFor(async () => out.includes(readyText), `${cmd} to print "${readyText}"`);
}

/** Runs `fn` with servers started by `start` on a stack of their own, torn down afterwards. */
async function withServers<T>(start: (stack: Stack) => Promise<void>, fn: () => Promise<T>): Promise<T> {
  const local = new Stack();
  try {
    await start(local);
    return await fn();
  } finally {
    await local.unwind();
  }
}

async function seqRead(file: string): Promise<number> {
  await dropCaches();
  const size = (await stat(file)).size;
  const m = await measure('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M']);
  return mibPerSecond(size, m.wallSeconds);
}

async function seqReadNbd(uri: string, size: number): Promise<number> {
  await dropCaches();
  const m = await measure('nbdcopy', [uri, 'null:']);
  return mibPerSecond(size, m.wallSeconds);
}

async function fioIops(args: string[], seconds: number): Promise<number> {
  await dropCaches();
  const out = await run(
    'fio',
    [
      '--name=rand4k',
      '--rw=randread',
      '--bs=4k',
      '--time_based',
      `--runtime=${seconds}`,
      '--group_reporting',
      '--output-format=json',
      '--randrepeat=1',
      '--norandommap',
      ...args,
    ],
    { timeoutSeconds: seconds + 120 },
  );
  const json = JSON.parse(out.slice(out.indexOf('{')));
  return Number(json.jobs[0].read.iops);
}

/** 4 jobs of synchronous O_DIRECT reads on a file: the page cache does not answer for anyone. */
function fioFile(file: string, seconds: number): Promise<number> {
  return fioIops([`--filename=${file}`, '--ioengine=psync', '--direct=1', '--numjobs=4'], seconds);
}

export async function runMountBench(opts: MountBenchOptions): Promise<void> {
  const log = opts.log ?? console.log;
  for (const set of opts.corpora) await benchSet(opts, set, log);
}

async function benchSet(opts: MountBenchOptions, set: CorpusSet, log: (line: string) => void): Promise<void> {
  const image = corpusPath(set, 'ext4-v1.img');
  const ntfs = corpusPath(set, 'ntfs.img');
  if (!image) {
    log(`mount bench (${set.label}): ext4-v1.img missing, skipped`);
    return;
  }
  const fioSeconds = opts.fioSeconds ?? 8;
  const work = join(opts.workDir, set.label);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const size = (await stat(image)).size;
  const stack = new Stack();
  const peers: Peer[] = [];
  /** Sets up a peer; a peer that cannot be set up is reported with its error, not measured. */
  const addPeer = async (label: string, setup: () => Promise<Omit<Peer, 'label' | 'seqRuns'>>) => {
    try {
      peers.push({ label, seqRuns: [], ...(await setup()) });
    } catch (e) {
      peers.push({ label, seqRuns: [], error: errorLine(e) });
    }
  };
  try {
    // --- diskarc: pack, mount (sequential passes; random reads get a mount of their own, so they
    // start cold in every cache too) ---
    const archive = join(work, 'archive');
    await run(process.execPath, [opts.diskarc, 'create', '-a', archive]);
    await run(process.execPath, [opts.diskarc, 'pack', '-a', archive, image, '--name', 'img', '--no-verify']);
    if (ntfs) await run(process.execPath, [opts.diskarc, 'pack', '-a', archive, ntfs, '--name', 'ntfs', '--no-verify']);
    // diskarc's servers cache decoded slabs, so every cold measurement gets a fresh one.
    const mnt = join(work, 'mnt-diskarc');
    const mntRand = join(work, 'mnt-diskarc-rand');
    const mountArgs = (mp: string) => [opts.diskarc, 'mount', '-a', archive, mp, '--foreground'];
    const freshMount = <T>(fn: () => Promise<T>) =>
      withServers((st) => fuseMount(st, mnt, process.execPath, mountArgs(mnt), 'mounted'), fn);
    await addPeer('diskarc mount', async () => {
      const file = join(mnt, 'img', 'disk.img');
      return {
        seq: () => freshMount(() => seqRead(file)),
        // Mounted on the bench's own stack: the next row reads it again.
        rand: async () => {
          await fuseMount(stack, mntRand, process.execPath, mountArgs(mntRand), 'mounted');
          return fioFile(join(mntRand, 'img', 'disk.img'), fioSeconds);
        },
        verify: () => freshMount(() => run('cmp', [file, image])).then(() => {}),
      };
    });
    // The same random reads again on that mount: the slabs they touched stay in the slab cache
    // (sized to the mounted data by default), so this is the hot-working-set figure. A sequential
    // pass does not fill the cache (it borrows slabs; the page cache keeps its pages), so its
    // later rounds are as cold as the first and there is no warm sequential figure.
    await addPeer('diskarc mount (same random reads again: cached slabs)', async () => ({
      rand: () => fioFile(join(mntRand, 'img', 'disk.img'), fioSeconds),
    }));
    // fuse-native alone: a file served from memory through the same transport (no archive, no
    // decoding) — the ceiling of what any mount built on fuse-native reads at here.
    await addPeer('fuse-native alone (bytes from memory)', async () => {
      const mp = join(work, 'mnt-transport');
      await fuseMount(
        stack,
        mp,
        process.execPath,
        [join(dirname(fileURLToPath(import.meta.url)), 'fuse-transport-server.js'), mp, String(size)],
        'ready',
      );
      return { seq: () => seqRead(join(mp, 'data')), note: 'transport ceiling, not a peer' };
    });
    // The same stream over NBD (diskarc serve).
    await addPeer('diskarc serve (NBD)', async () => {
      const sock = join(work, 'nbd.sock');
      const uri = `nbd+unix:///?socket=${sock}`;
      const freshServer = <T>(fn: () => Promise<T>) =>
        withServers(async (st) => {
          await rm(sock, { force: true });
          startDaemon(st, process.execPath, [opts.diskarc, 'serve', '-a', archive, '-s', 'img', '--nbd-socket', sock]);
          await waitFor(async () => existsSync(sock), 'the NBD socket');
        }, fn);
      return {
        seq: () => freshServer(() => seqReadNbd(uri, size)),
        rand: () => freshServer(() => fioIops(['--ioengine=nbd', `--uri=${uri}`, '--iodepth=4', `--size=${size}`], fioSeconds)),
      };
    });
    // ewfmount of an E01 (ewfacquire, best compression); it detaches itself, fusermount tears it down.
    await addPeer('ewfmount (E01)', async () => {
      const target = join(work, 'img');
      await run('ewfacquire', ['-u', '-c', 'best', '-t', target, image], { timeoutSeconds: 3600 });
      const mp = join(work, 'mnt-ewf');
      await fuseMount(stack, mp, 'ewfmount', [`${target}.E01`, mp]);
      const file = join(mp, 'ewf1');
      return { seq: () => seqRead(file), rand: () => fioFile(file, fioSeconds), verify: () => run('cmp', [file, image]).then(() => {}) };
    });
    // squashfuse of a zstd squashfs.
    await addPeer('squashfuse (zstd)', async () => {
      const sq = join(work, 'img.sqfs');
      await run('mksquashfs', [image, sq, '-comp', 'zstd', '-noappend', '-quiet', '-no-progress'], { timeoutSeconds: 3600 });
      const mp = join(work, 'mnt-sq');
      await fuseMount(stack, mp, 'squashfuse', ['-f', sq, mp]);
      const file = join(mp, 'ext4-v1.img');
      return { seq: () => seqRead(file), rand: () => fioFile(file, fioSeconds), verify: () => run('cmp', [file, image]).then(() => {}) };
    });

    // Sequential passes in alternating rounds, so a slow spell of the machine hits every peer
    // alike; then random reads, each once (the diskarc rows first: the second needs the first);
    // then the bytes are compared.
    for (let round = 0; round < SEQ_ROUNDS; round++) {
      for (const p of peers) {
        if (!p.seq || p.error) continue;
        try {
          p.seqRuns.push(await p.seq());
        } catch (e) {
          p.error = errorLine(e);
        }
      }
    }
    for (const p of peers) {
      if (!p.rand || p.error) continue;
      try {
        p.randIops = await p.rand();
      } catch (e) {
        p.error = errorLine(e);
      }
    }
    for (const p of peers) {
      if (!p.verify || p.error) continue;
      try {
        await p.verify();
      } catch (e) {
        p.error = `bytes differ from the image: ${errorLine(e)}`;
      }
    }

    const ours = peers[0];
    const seqOf = (p: Peer) => median(p.seqRuns);
    const spread = (p: Peer) => (p.seqRuns.length > 1 ? `${fmtRate(Math.min(...p.seqRuns))}–${fmtRate(Math.max(...p.seqRuns))}` : '–');
    printTable(
      `mount (${set.label}): ${fmtBytes(size)} ext4 image — sequential dd bs=1M (cold caches; median of ${SEQ_ROUNDS} ` +
        `alternating rounds) and fio random 4 KiB reads (O_DIRECT, 4 jobs, ${fioSeconds} s)`,
      [
        { header: 'peer', align: 'left' },
        'seq MiB/s',
        'seq range',
        'diskarc ×',
        'rand 4K IOPS',
        'diskarc ×',
        { header: 'note', align: 'left' },
      ],
      peers.map((p) => [
        p.label,
        fmtRate(seqOf(p)),
        spread(p),
        fmtRatio(seqOf(ours), seqOf(p)),
        p.randIops ? p.randIops.toFixed(0) : '–',
        fmtRatio(ours.randIops, p.randIops),
        p.error ?? p.note ?? '',
      ]),
      log,
    );
    for (const peer of peers.filter((p) => /^(ewfmount|squashfuse)/.test(p.label))) {
      const seqOk = (seqOf(ours) ?? 0) >= (seqOf(peer) ?? Infinity);
      const randOk = (ours.randIops ?? 0) >= (peer.randIops ?? Infinity);
      log(`target: diskarc mount ≥ ${peer.label}: sequential ${seqOk ? 'PASS' : 'FAIL'}, random ${randOk ? 'PASS' : 'FAIL'}`);
    }

    // --- small files out of NTFS: diskarc's fs/ vs ntfs-3g on the raw image, alternating rounds ---
    if (ntfs) {
      const copiers: Array<{
        peer: string;
        src: string;
        runs: number[];
        fresh?: typeof freshMount;
        bytes?: number;
        files?: number;
        error?: string;
      }> = [
        { peer: 'diskarc mount (fs/)', src: join(mnt, 'ntfs', 'fs'), runs: [], fresh: freshMount },
        { peer: 'ntfs-3g (raw image)', src: join(work, 'mnt-ntfs3g'), runs: [] },
      ];
      try {
        await fuseMount(stack, copiers[1].src, 'ntfs-3g', ['-o', 'ro,no_detach', ntfs, copiers[1].src]);
      } catch (e) {
        copiers[1].error = errorLine(e);
      }
      for (let round = 0; round < SEQ_ROUNDS; round++) {
        for (const c of copiers) {
          if (c.error) continue;
          try {
            const dest = join(work, 'copy');
            await dropCaches();
            const copy = () => measure('cp', ['-r', `${c.src}/.`, dest], { timeoutSeconds: 3600 });
            const m = await (c.fresh ? c.fresh(copy) : copy());
            c.files = Number((await run('bash', ['-c', `find ${JSON.stringify(dest)} -type f | wc -l`])).trim());
            c.bytes = Number((await run('du', ['-sb', dest])).split('\t')[0]);
            c.runs.push(m.wallSeconds);
            await rm(dest, { recursive: true, force: true });
          } catch (e) {
            c.error = errorLine(e);
          }
        }
      }
      const secs = (c: (typeof copiers)[number]) => median(c.runs);
      printTable(
        `mount (${set.label}): cp -r of every file of ntfs.img (cold cache; median of ${SEQ_ROUNDS} alternating rounds)`,
        [
          { header: 'peer', align: 'left' },
          'files',
          'bytes',
          'seconds',
          'range',
          'MiB/s',
          'files/s',
          'diskarc ×',
          { header: 'note', align: 'left' },
        ],
        copiers.map((c) => [
          c.peer,
          String(c.files ?? '–'),
          fmtBytes(c.bytes),
          fmtSeconds(secs(c)),
          c.runs.length > 1 ? `${fmtSeconds(Math.min(...c.runs))}–${fmtSeconds(Math.max(...c.runs))}` : '–',
          fmtRate(c.bytes !== undefined && secs(c) ? mibPerSecond(c.bytes, secs(c)!) : undefined),
          c.files && secs(c) ? (c.files / secs(c)!).toFixed(0) : '–',
          fmtRatio(secs(copiers[1]), secs(c)),
          c.error ?? '',
        ]),
        log,
      );
    }
  } finally {
    await stack.unwind();
    await rm(work, { recursive: true, force: true });
  }
}
