// Test harness for the archive core: runs the real CLI as an async child process and makes
// input files (random, zero, sparse, filesystem images) in a per-test temporary directory.
import { spawn } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function diskarc(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args]);
}

/** Runs diskarc and parses its --json output, failing loudly on a non-zero exit. */
export async function diskarcJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const r = await diskarc(...args, '--json');
  if (r.code !== 0) throw new Error(`diskarc ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A deterministic pseudo-random buffer (xorshift32 from `seed`), so failures reproduce. */
export function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes `pieces` at their offsets into a file of `size` bytes (unwritten ranges stay holes). */
export async function writeSparse(path: string, size: number, pieces: Array<{ offset: number; data: Buffer }>): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    for (const p of pieces) await fh.write(p.data, 0, p.data.length, p.offset);
  } finally {
    await fh.close();
  }
}

/**
 * Folders under the archive's streams/ that are no committed stream: a stream is committed once
 * its meta.json exists (format.md §7); a pack in progress, or killed, has map files without one
 * (an older diskarc wrote into streams/.tmp-<id>/ instead).
 */
export async function uncommittedStreams(archive: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const names = await readdir(join(archive, 'streams')).catch(() => [] as string[]);
  const out: string[] = [];
  for (const name of names) {
    if (!(await readdir(join(archive, 'streams', name)).catch(() => [] as string[])).includes('meta.json') || name.startsWith('.')) out.push(name);
  }
  return out;
}
