// Shared by the WebDAV tests: `diskarc serve --webdav` as a child process (so in-process clients
// and RSS readings see a real, separate server), async shell and HTTP helpers.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';

export const CLI = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
export const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

export interface ShResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function sh(script: string, opts: { cwd?: string; timeoutMs?: number; encoding?: 'utf8' | 'latin1' } = {}): Promise<ShResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: opts.cwd, env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(opts.encoding ?? 'utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

export async function mustSh(script: string, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await sh(script, opts);
  if (r.code !== 0) throw new Error(`command failed (${r.code}): ${script}\n${r.stderr}`);
  return r.stdout;
}

export interface DavServe {
  child: ChildProcess;
  /** http://127.0.0.1:PORT/ (https:… with TLS). */
  uri: string;
  port: number;
  pid: number;
  stderr(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `diskarc serve --webdav 127.0.0.1:0 --json …` and waits for its ready line. */
export async function startDavServe(args: string[]): Promise<DavServe> {
  const child = spawn(process.execPath, [CLI, 'serve', '--webdav', '127.0.0.1:0', '--json', '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = await new Promise<{ listening: Array<{ protocol: string; uri: string; port: number }> }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve not ready after 30 s: ${err}`));
    }, 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before it was ready: ${err}`));
    });
  });
  const dav = ready.listening.find((l) => l.protocol === 'webdav')!;
  return {
    child,
    uri: dav.uri,
    port: dav.port,
    pid: child.pid!,
    stderr: () => err,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request (a fresh connection), body collected. */
export function http(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${opts.method ?? 'GET'} ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Peak resident set (VmHWM) and current RSS of a process, in bytes. */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
