// Measurement helpers shared by every benchmark section: run a command and capture its wall
// time, CPU time, peak RSS and I/O counters; sum a directory's bytes; print aligned tables.
// Counters come from the kernel, not from the tool's own report, so peers are measured alike.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lstat, open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the kernel says one command cost. */
export interface Measurement {
  command: string;
  exitCode: number;
  /** Wall-clock seconds from spawn to exit. */
  wallSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  /** Peak resident set size of the process (largest of it and its waited-for children), bytes. */
  maxRssBytes: number;
  /** /proc/<pid>/io at exit: bytes passed through read()-family calls (page cache hits included). */
  rchar: number;
  /** Bytes passed through write()-family calls. */
  wchar: number;
  /** Bytes actually fetched from the block layer (0 when everything was cached). */
  readBytes: number;
  writeBytes: number;
  stdout: string;
  /** The last 64 KiB of stderr, for error reports. */
  stderr: string;
}

export interface RunOptions {
  /** File connected to the command's stdin (default: none). */
  stdinFile?: string;
  /** File that receives stdout; default: captured into `stdout` (capped at 64 MiB). */
  stdoutFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Reject when the command exits non-zero (default true). */
  check?: boolean;
  /** Kill the command after this many seconds (default 3600): every bench loop is bounded. */
  timeoutSeconds?: number;
}

// A tiny supervisor: forks the command, waits for it with WNOWAIT so that /proc/<pid>/io of the
// zombie can still be read (polling a live process would miss its final reads), then reaps it
// with wait4 for the exact rusage. /usr/bin/python3 is present wherever borg is installed.
const SUPERVISOR = String.raw`
import json, os, sys, time
argv = sys.argv[1:]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.close(3)
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("cannot run %s: %s\n" % (argv[0], e)).encode())
        os._exit(127)
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
wall = time.monotonic() - t0
io = {}
try:
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, v = line.split(":")
            io[k.strip()] = int(v)
except OSError:
    pass
_, status, ru = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
out = {"wall": wall, "code": code, "utime": ru.ru_utime, "stime": ru.ru_stime, "maxrssKiB": ru.ru_maxrss,
       "rchar": io.get("rchar", -1), "wchar": io.get("wchar", -1),
       "read_bytes": io.get("read_bytes", -1), "write_bytes": io.get("write_bytes", -1)}
os.write(3, json.dumps(out).encode())
`;

const STDERR_KEEP = 64 * 1024;
const STDOUT_KEEP = 64 * 1024 * 1024;

export class CommandError extends Error {
  constructor(readonly measurement: Measurement) {
    const tail = measurement.stderr.trim().split('\n').slice(-6).join('\n  ');
    super(`${measurement.command} exited with ${measurement.exitCode}${tail ? `:\n  ${tail}` : ''}`);
  }
}

/** Runs `cmd args…` under the supervisor and returns what it cost. */
export async function measure(cmd: string, args: string[], opts: RunOptions = {}): Promise<Measurement> {
  const command = [cmd, ...args].map(quoteArg).join(' ');
  const stdin = opts.stdinFile ? await open(opts.stdinFile, 'r') : undefined;
  const stdout = opts.stdoutFile ? await open(opts.stdoutFile, 'w') : undefined;
  try {
    const child = spawn('/usr/bin/python3', ['-c', SUPERVISOR, cmd, ...args], {
      stdio: [stdin ? stdin.fd : 'ignore', stdout ? stdout.fd : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    let out = '';
    let err = '';
    let report = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (out.length < STDOUT_KEEP) out += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err = (err + d).slice(-STDERR_KEEP);
    });
    const reportPipe = child.stdio[3] as NodeJS.ReadableStream;
    reportPipe.setEncoding('utf8');
    reportPipe.on('data', (d: string) => (report += d));
    const timeout = (opts.timeoutSeconds ?? 3600) * 1000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // Kill the supervisor's child first (the supervisor then reports and exits).
      for (const pid of childPids(child.pid!)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, timeout);
    const supervisorCode = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code ?? -1));
    });
    clearTimeout(timer);
    if (!report) throw new Error(`measure: supervisor for ${command} exited ${supervisorCode} without a report: ${err.trim()}`);
    const r = JSON.parse(report) as Record<string, number>;
    const m: Measurement = {
      command,
      exitCode: r.code,
      wallSeconds: r.wall,
      userSeconds: r.utime,
      systemSeconds: r.stime,
      maxRssBytes: r.maxrssKiB * 1024,
      rchar: r.rchar,
      wchar: r.wchar,
      readBytes: r.read_bytes,
      writeBytes: r.write_bytes,
      stdout: out,
      stderr: timedOut ? `${err}\n(killed after ${timeout / 1000} s)` : err,
    };
    if ((opts.check ?? true) && m.exitCode !== 0) throw new CommandError(m);
    return m;
  } finally {
    await stdin?.close();
    await stdout?.close();
  }
}

/** Runs a command for its side effect (not measured); throws with its stderr on failure. */
export async function run(cmd: string, args: string[], opts: Omit<RunOptions, 'stdoutFile'> = {}): Promise<string> {
  const m = await measure(cmd, args, opts);
  return m.stdout;
}

function childPids(pid: number): number[] {
  // Synchronous reads of /proc are fine here: the bench process serves nothing.
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Apparent and allocated bytes of every file under `path` (a file or a directory tree). */
export async function diskUsage(path: string): Promise<{ apparent: number; allocated: number }> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return { apparent: 0, allocated: 0 };
  if (!st.isDirectory()) return { apparent: st.size, allocated: st.blocks * 512 };
  let apparent = 0;
  let allocated = 0;
  for (const name of await readdir(path)) {
    const u = await diskUsage(join(path, name));
    apparent += u.apparent;
    allocated += u.allocated;
  }
  return { apparent, allocated };
}

// ---- formatting ---------------------------------------------------------------------------

const MiB = 1024 * 1024;

export function mibPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / MiB / seconds : Infinity;
}

export function fmtBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n) || n < 0) return '–';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

export function fmtRate(mibps: number | undefined): string {
  if (mibps === undefined || Number.isNaN(mibps)) return '–';
  if (!Number.isFinite(mibps)) return '∞';
  return mibps >= 100 ? mibps.toFixed(0) : mibps.toFixed(1);
}

/** `a / b` as "1.73×"; "–" when either side is missing. */
export function fmtRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

export function fmtSeconds(s: number | undefined): string {
  return s === undefined || !Number.isFinite(s) ? '–' : s >= 100 ? s.toFixed(0) : s.toFixed(2);
}

export type Align = 'left' | 'right';
export interface Column {
  header: string;
  align?: Align;
}

/** Prints a plain-text table with aligned columns (right-aligned unless told otherwise). */
export function printTable(
  title: string,
  columns: Array<Column | string>,
  rows: string[][],
  log: (line: string) => void = console.log,
): void {
  const cols = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const widths = cols.map((c, i) => Math.max([...c.header].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const pad = (s: string, i: number) => {
    const fill = ' '.repeat(widths[i] - [...s].length);
    return (cols[i].align ?? (i === 0 ? 'left' : 'right')) === 'left' ? s + fill : fill + s;
  };
  log('');
  log(title);
  log(cols.map((c, i) => pad(c.header, i)).join('  '));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) log(cols.map((_, i) => pad(r[i] ?? '', i)).join('  '));
}

/**
 * Starts a cold measurement: writes back dirty pages first (an image written just before, such as
 * a peer's squashfs or E01, would otherwise be flushed during the next timing), then drops the
 * page cache. Needs root; without it the caches simply stay.
 */
export async function dropCaches(): Promise<void> {
  await run('sync', []);
  await writeFile('/proc/sys/vm/drop_caches', '3\n').catch(() => {});
}
