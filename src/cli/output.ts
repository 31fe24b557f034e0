// How commands talk to the user: human text on stdout, one JSON object with --json,
// diagnostics on stderr (more with --verbose), and typed errors turned into exit codes.
import { DiskarcError, ExitCode, systemError } from '../errors.js';

export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
}

export class Output {
  constructor(readonly opts: GlobalOptions) {}

  /** Prints a result: `human` text normally, `data` as one JSON object with --json. */
  result(data: unknown, human: string | (() => string)): void {
    if (this.opts.json) process.stdout.write(JSON.stringify(data) + '\n');
    else {
      const text = typeof human === 'function' ? human() : human;
      if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  info(msg: string): void {
    if (!this.opts.json) process.stderr.write(msg + '\n');
  }

  verbose(msg: string): void {
    if (this.opts.verbose) process.stderr.write(msg + '\n');
  }
}

/** Reports an error (one line, or JSON with --json) and returns the exit code to use. */
export function reportError(error: unknown, opts: GlobalOptions): number {
  // An environmental failure that no command classified itself still gets its own class.
  const e = systemError(error) ?? error;
  if (e instanceof DiskarcError) {
    if (opts.json) process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, ...e.details } }) + '\n');
    process.stderr.write(`diskarc: ${e.message}\n`);
    if (opts.verbose && e.cause) process.stderr.write(`  cause: ${e.cause instanceof Error ? e.cause.stack : String(e.cause)}\n`);
    return e.exitCode;
  }
  const err = e as Error;
  if (opts.json) process.stdout.write(JSON.stringify({ error: { code: 'EINTERNAL', message: String(err?.message ?? e) } }) + '\n');
  process.stderr.write(`diskarc: internal error: ${err?.message ?? String(e)}\n`);
  if (opts.verbose) process.stderr.write(`${err?.stack ?? ''}\n`);
  else process.stderr.write('  (run again with --verbose for a stack trace)\n');
  return ExitCode.INTERNAL;
}

export { formatBytes } from '../format-bytes.js';
