// The disk the range-proxy tests serve: pseudo-random bytes (so every compared byte means
// something) with a zero run (stored as a fill), an MBR with two partitions, packed with the CLI
// into an archive of 256 KiB slabs so reads cross slab boundaries; and `diskarc serve` run as
// its own process, as a user runs it, the client in this one.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packArchive } from '../nbd/fixture-disks.js';
import { prng } from '../nbd/helpers.js';

const main = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

const MiB = 1024 * 1024;
export const SLAB = 256 * 1024;

export interface ProxyDisk {
  path: string;
  data: Buffer;
  partitions: Array<{ index: number; start: number; size: number }>;
}

/** 24 MiB + 1536 bytes: p1 at 1 MiB (10 MiB), p2 from 11 MiB to 1 KiB before the end. */
export async function writeProxyDisk(path: string, seed = 17): Promise<ProxyDisk> {
  const size = 24 * MiB + 1536;
  const data = prng(size, seed);
  data.fill(0, 6 * MiB, 7 * MiB + 4096);
  const partitions = [
    { index: 1, start: 1 * MiB, size: 10 * MiB },
    { index: 2, start: 11 * MiB, size: size - 11 * MiB - 1024 },
  ];
  data.fill(0, 0, 512);
  for (const p of partitions) {
    const e = 446 + (p.index - 1) * 16;
    data[e + 4] = p.index === 1 ? 0x83 : 0x07;
    data.writeUInt32LE(p.start / 512, e + 8);
    data.writeUInt32LE(p.size / 512, e + 12);
  }
  data[510] = 0x55;
  data[511] = 0xaa;
  await writeFile(path, data);
  return { path, data, partitions };
}

export interface Listening {
  protocol: string;
  uri: string;
  host?: string;
  port?: number;
  socket?: string;
  export?: string;
}

export interface ServeChild {
  child: ChildProcess;
  listening: Listening[];
  /** JSON log lines written so far. */
  logs(): Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit status. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Packs the disk (stream "disk") and a small second stream ("other") into `dir`/archive. */
export async function packProxyFixture(dir: string): Promise<{ disk: ProxyDisk; other: Buffer; archive: string }> {
  const disk = await writeProxyDisk(join(dir, 'disk.img'));
  const other = prng(300_001, 5);
  await writeFile(join(dir, 'other.img'), other);
  const { archive } = await packArchive(dir, [
    { path: disk.path, name: 'disk' },
    { path: join(dir, 'other.img'), name: 'other' },
  ]);
  return { disk, other, archive };
}

/** Runs `diskarc serve --json …` as its own process (as a user does; it dies with this one) and waits for its ready line. */
export async function serveChild(args: string[]): Promise<ServeChild> {
  const child = spawn(process.execPath, [main, 'serve', '--json', '--exit-with-parent', '--log-level', 'debug', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = await new Promise<{ listening: Listening[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve not ready after 20 s: ${stderr}`)), 20000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(stdout.slice(0, nl)) as { listening: Listening[] });
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`serve exited early (${e.code}): ${stderr}`));
    });
  });
  const logs = () =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return { child, listening: ready.listening, logs, exited, stop };
}

/** Where a client connects to a listener. */
export function targetOf(l: Listening): { port: number } | { path: string } {
  return l.socket !== undefined ? { path: l.socket } : { port: l.port! };
}

/** Deterministic random numbers for the tests (xorshift32). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}
