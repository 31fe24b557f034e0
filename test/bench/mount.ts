// Issue 6's benchmark: reading an archived image through `diskarc mount` against what a user
// would mount instead — the same stream over NBD (diskarc serve), ewfmount of an E01 made by
// ewfacquire with compression, squashfuse of a zstd squashfs holding the image — and copying a
// tree of small files out of an NTFS volume (p1/ or fs/) beside ntfs-3g on the raw image.
// Same bytes, one run, page cache dropped before every cold measurement; ratios and targets printed.
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

interface ReadResult {
  peer: string;
  /** What was read (mounted file or NBD URI). */
  target: string;
  seqMiBps?: number;
  randIops?: number;
  error?: string;
  note?: string;
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
  const out = await run('fio', [
    '--name=rand4k', '--rw=randread', '--bs=4k', '--time_based', `--runtime=${seconds}`, '--group_reporting',
    '--output-format=json', '--randrepeat=1', '--norandommap', ...args,
  ], { timeoutSeconds: seconds + 120 });
  const json = JSON.parse(out.slice(out.indexOf('{')));
  return Number(json.jobs[0].read.iops);
}

/** 4 jobs of synchronous O_DIRECT reads on a file: the page cache does not answer for anyone. */
function fioFile(file: string, seconds: number): Promise<number> {
  return fioIops([`--filename=${file}`, '--ioengine=psync', '--direct=1', '--numjobs=4'], seconds);
}

async function measureReads(label: string, target: string, read: () => Promise<ReadResult>): Promise<ReadResult> {
  try {
    return await read();
  } catch (e) {
    return { peer: label, target, error: (e as Error).message.split('\n')[0] };
  }
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
  const results: ReadResult[] = [];
  try {
    // --- diskarc: pack, mount ---
    const archive = join(work, 'archive');
    await run(process.execPath, [opts.diskarc, 'create', '-a', archive]);
    await run(process.execPath, [opts.diskarc, 'pack', '-a', archive, image, '--name', 'img', '--no-verify']);
    if (ntfs) await run(process.execPath, [opts.diskarc, 'pack', '-a', archive, ntfs, '--name', 'ntfs', '--no-verify']);
    const mnt = join(work, 'mnt-diskarc');
    await fuseMount(stack, mnt, process.execPath, [opts.diskarc, 'mount', '-a', archive, mnt, '--foreground'], 'mounted');
    const mountedImg = join(mnt, 'img', 'disk.img');
    // Every peer is read cold first; the bytes are compared after the timings (cmp warms caches).
    // The random pass gets a mount of its own, so it starts cold in every cache too.
    let mntRand = '';
    results.push(await measureReads('diskarc mount', mountedImg, async () => {
      const seqMiBps = await seqRead(mountedImg);
      mntRand = join(work, 'mnt-diskarc-rand');
      await fuseMount(stack, mntRand, process.execPath, [opts.diskarc, 'mount', '-a', archive, mntRand, '--foreground'], 'mounted');
      const r = { peer: 'diskarc mount', target: mountedImg, seqMiBps, randIops: await fioFile(join(mntRand, 'img', 'disk.img'), fioSeconds) };
      await run('cmp', [mountedImg, image]);
      return r;
    }));

    // --- the same random reads again on that mount: the slabs they touched stay in the slab
    // cache (sized to the mounted data by default), so this is the hot-working-set figure. A
    // sequential pass does not fill the cache (it borrows slabs; the page cache keeps its pages),
    // so there is no warm sequential figure. ---
    results.push(await measureReads('diskarc mount (same random reads again: cached slabs)', mntRand, async () => {
      if (!mntRand) throw new Error('no random-read mount');
      return { peer: 'diskarc mount (same random reads again: cached slabs)', target: mntRand, randIops: await fioFile(join(mntRand, 'img', 'disk.img'), fioSeconds) };
    }));

    // --- fuse-native alone: a file served from memory through the same transport (no archive,
    // no decoding) — the ceiling of what any mount built on fuse-native reads at here. ---
    results.push(await measureReads('fuse-native alone (bytes from memory)', 'transport', async () => {
      const mp = join(work, 'mnt-transport');
      await fuseMount(stack, mp, process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'fuse-transport-server.js'), mp, String(size)], 'ready');
      return { peer: 'fuse-native alone (bytes from memory)', target: mp, seqMiBps: await seqRead(join(mp, 'data')), note: 'transport ceiling, not a peer' };
    }));

    // --- the same stream over NBD (diskarc serve) ---
    const sock = join(work, 'nbd.sock');
    const uri = `nbd+unix:///?socket=${sock}`;
    results.push(await measureReads('diskarc serve (NBD)', uri, async () => {
      startDaemon(stack, process.execPath, [opts.diskarc, 'serve', '-a', archive, '-s', 'img', '--nbd-socket', sock]);
      await waitFor(async () => existsSync(sock), 'the NBD socket');
      return {
        peer: 'diskarc serve (NBD)', target: uri, seqMiBps: await seqReadNbd(uri, size),
        randIops: await fioIops(['--ioengine=nbd', `--uri=${uri}`, '--iodepth=4', `--size=${size}`], fioSeconds),
      };
    }));

    // --- ewfmount of an E01 (ewfacquire, best compression) ---
    results.push(await measureReads('ewfmount (E01)', 'ewf1', async () => {
      const target = join(work, 'img');
      await run('ewfacquire', ['-u', '-c', 'best', '-t', target, image], { timeoutSeconds: 3600 });
      const mp = join(work, 'mnt-ewf');
      // ewfmount detaches itself; the mount is torn down with fusermount.
      await fuseMount(stack, mp, 'ewfmount', [`${target}.E01`, mp]);
      const file = join(mp, 'ewf1');
      const r = { peer: 'ewfmount (E01)', target: file, seqMiBps: await seqRead(file), randIops: await fioFile(file, fioSeconds) };
      await run('cmp', [file, image]);
      return r;
    }));

    // --- squashfuse of a zstd squashfs ---
    results.push(await measureReads('squashfuse (zstd)', 'sq', async () => {
      const sq = join(work, 'img.sqfs');
      await run('mksquashfs', [image, sq, '-comp', 'zstd', '-noappend', '-quiet', '-no-progress'], { timeoutSeconds: 3600 });
      const mp = join(work, 'mnt-sq');
      await fuseMount(stack, mp, 'squashfuse', ['-f', sq, mp]);
      const file = join(mp, 'ext4-v1.img');
      const r = { peer: 'squashfuse (zstd)', target: file, seqMiBps: await seqRead(file), randIops: await fioFile(file, fioSeconds) };
      await run('cmp', [file, image]);
      return r;
    }));

    const ours = results[0];
    printTable(`mount (${set.label}): ${fmtBytes(size)} ext4 image — sequential dd bs=1M (cold caches) and fio random 4 KiB reads (O_DIRECT, 4 jobs, ${fioSeconds} s)`,
      [{ header: 'peer', align: 'left' }, 'seq MiB/s', 'diskarc ×', 'rand 4K IOPS', 'diskarc ×', { header: 'note', align: 'left' }],
      results.map((r) => [r.peer, fmtRate(r.seqMiBps), fmtRatio(ours.seqMiBps, r.seqMiBps), r.randIops ? r.randIops.toFixed(0) : '–', fmtRatio(ours.randIops, r.randIops), r.error ?? r.note ?? '']), log);
    for (const peer of results.filter((r) => /^(ewfmount|squashfuse)/.test(r.peer))) {
      const seqOk = (ours.seqMiBps ?? 0) >= (peer.seqMiBps ?? Infinity);
      const randOk = (ours.randIops ?? 0) >= (peer.randIops ?? Infinity);
      log(`target: diskarc mount ≥ ${peer.peer}: sequential ${seqOk ? 'PASS' : 'FAIL'}, random ${randOk ? 'PASS' : 'FAIL'}`);
    }

    // --- small files out of NTFS: diskarc's fs/ vs ntfs-3g on the raw image ---
    if (ntfs) {
      const copies: Array<{ peer: string; seconds?: number; bytes?: number; files?: number; error?: string }> = [];
      for (const [peer, src] of [['diskarc mount (fs/)', join(mnt, 'ntfs', 'fs')], ['ntfs-3g (raw image)', join(work, 'mnt-ntfs3g')]] as const) {
        try {
          if (peer.startsWith('ntfs-3g')) await fuseMount(stack, src, 'ntfs-3g', ['-o', 'ro,no_detach', ntfs, src]);
          const dest = join(work, `copy-${copies.length}`);
          await dropCaches();
          const m = await measure('cp', ['-r', `${src}/.`, dest], { timeoutSeconds: 3600 });
          const files = Number((await run('bash', ['-c', `find ${JSON.stringify(dest)} -type f | wc -l`])).trim());
          const bytes = Number((await run('du', ['-sb', dest])).split('\t')[0]);
          copies.push({ peer, seconds: m.wallSeconds, bytes, files });
          await rm(dest, { recursive: true, force: true });
        } catch (e) {
          copies.push({ peer, error: (e as Error).message.split('\n')[0] });
        }
      }
      printTable(`mount (${set.label}): cp -r of every file of ntfs.img (cold cache)`,
        [{ header: 'peer', align: 'left' }, 'files', 'bytes', 'seconds', 'MiB/s', 'files/s', 'diskarc ×', { header: 'note', align: 'left' }],
        copies.map((c) => [c.peer, String(c.files ?? '–'), fmtBytes(c.bytes), fmtSeconds(c.seconds),
          fmtRate(c.bytes !== undefined && c.seconds ? mibPerSecond(c.bytes, c.seconds) : undefined),
          c.files && c.seconds ? (c.files / c.seconds).toFixed(0) : '–', fmtRatio(copies[1]?.seconds, c.seconds), c.error ?? '']), log);
    }
  } finally {
    await stack.unwind();
    await rm(work, { recursive: true, force: true });
  }
}
