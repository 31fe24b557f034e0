// Shared by the NBD tests: async child processes for the real clients (never spawnSync — the
// server under test runs on this event loop), an in-process serve of raw images, and fixtures.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ServeProcess } from '../../../server/lifecycle.js';
import type { ServeConfig } from '../../../server/config.js';
import type { PartitionLister } from '../../../server/catalog.js';
import type { OpenedDisks } from '../../../server/disks.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously; rejects only on spawn failure or timeout. */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out after ${opts.timeoutMs ?? 60000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 60000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A client that exits without reading its stdin (most take none) makes this write fail with
    // EPIPE; its exit status and stderr already say how it went. Any other error fails the run.
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e);
    });
    child.stdin.end(opts.input ?? '');
  });
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `diskarc-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function prng(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export async function writeOddImage(path: string, length = 1_000_003, seed = 42): Promise<Buffer> {
  const data = prng(length, seed);
  await writeFile(path, data);
  return data;
}

export const quietLog = (): pino.Logger => pino({ level: process.env.DISKARC_TEST_LOG ?? 'silent' });

export interface TestServer {
  proc: ServeProcess;
  socket: string;
  port: number;
  unixUri(exportName: string): string;
  tcpUri(exportName: string): string;
  stop(): Promise<void>;
}

/** Serves raw images (and/or an archive opener) in this process on a Unix socket and a loopback port. */
export async function startServer(
  dir: string,
  what: { images?: string[]; openArchive?: (c: ServeConfig) => Promise<OpenedDisks>; archive?: string; partitions?: PartitionLister },
): Promise<TestServer> {
  const socket = join(dir, 'nbd.sock');
  const config: ServeConfig = {
    archive: what.archive,
    streams: [],
    images: what.images ?? [],
    partitions: what.partitions !== undefined,
    nbd: [
      { kind: 'unix', path: socket },
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
    ],
    allowRemote: false,
    logLevel: 'silent',
  };
  const proc = await ServeProcess.start(config, quietLog(), { openArchive: what.openArchive, partitions: what.partitions });
  const tcp = proc.listeners.find((l) => l.bound.kind === 'tcp')!.bound;
  const port = tcp.kind === 'tcp' ? tcp.port : 0;
  return {
    proc,
    socket,
    port,
    unixUri: (name) => `nbd+unix:///${encodeURIComponent(name)}?socket=${socket}`,
    tcpUri: (name) => `nbd://127.0.0.1:${port}/${encodeURIComponent(name)}`,
    stop: () => proc.stop(),
  };
}
