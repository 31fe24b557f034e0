// The benchmark's measurements are only as good as these helpers: check them against commands
// whose cost is known (bytes read, memory touched, exit codes, sparse files).
import test from 'ava';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, diskUsage, fmtRatio, measure, printTable } from './measure.js';

const MiB = 1024 * 1024;

test('measure counts the bytes a command reads, including its last reads', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-measure-'));
  try {
    const file = join(dir, 'f');
    await writeFile(file, Buffer.alloc(24 * MiB, 1));
    const m = await measure('cat', [file], { stdoutFile: '/dev/null' });
    t.is(m.exitCode, 0);
    t.true(m.rchar >= 24 * MiB, `rchar ${m.rchar}`);
    t.true(m.rchar < 25 * MiB, `rchar ${m.rchar}`);
    t.true(m.wchar >= 24 * MiB);
    t.true(m.wallSeconds > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('measure reports the peak RSS of the command, not of the harness', async (t) => {
  const m = await measure('/usr/bin/python3', ['-c', 'b = bytearray(160 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1']);
  t.true(m.maxRssBytes >= 160 * MiB, `maxrss ${m.maxRssBytes}`);
  t.true(m.maxRssBytes < 400 * MiB, `maxrss ${m.maxRssBytes}`);
  t.true(m.userSeconds + m.systemSeconds > 0);
});

test('measure captures stdout, feeds stdin, and reports failures with their exit code', async (t) => {
  const echo = await measure('/bin/sh', ['-c', 'cat; echo done']);
  t.is(echo.stdout, 'done\n');
  const dir = await mkdtemp(join(tmpdir(), 'bench-measure-'));
  try {
    await writeFile(join(dir, 'in'), 'hello ');
    const m = await measure('/bin/sh', ['-c', 'cat; echo world'], { stdinFile: join(dir, 'in') });
    t.is(m.stdout, 'hello world\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const failed = await measure('/bin/sh', ['-c', 'echo oops >&2; exit 7'], { check: false });
  t.is(failed.exitCode, 7);
  t.regex(failed.stderr, /oops/);
  const err = await t.throwsAsync(measure('/bin/sh', ['-c', 'exit 3']));
  t.true(err instanceof CommandError);
  t.is((err as CommandError).measurement.exitCode, 3);
  const missing = await measure('/nonexistent/tool', [], { check: false });
  t.is(missing.exitCode, 127);
});

test('measure kills a command that outlives its timeout', async (t) => {
  const m = await measure('sleep', ['30'], { check: false, timeoutSeconds: 1 });
  t.not(m.exitCode, 0);
  t.true(m.wallSeconds < 10);
  t.regex(m.stderr, /killed after 1 s/);
});

test('diskUsage tells apparent from allocated bytes of a sparse file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-measure-'));
  try {
    const fh = await open(join(dir, 'sparse'), 'w');
    await fh.truncate(64 * MiB);
    await fh.write(Buffer.alloc(MiB, 1), 0, MiB, 32 * MiB);
    await fh.close();
    await writeFile(join(dir, 'small'), 'x');
    const u = await diskUsage(dir);
    t.is(u.apparent, 64 * MiB + 1);
    t.true(u.allocated >= MiB && u.allocated < 4 * MiB, `allocated ${u.allocated}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tables align their columns and ratios format as a×', (t) => {
  const lines: string[] = [];
  printTable(
    'T',
    [{ header: 'name', align: 'left' }, 'MiB/s'],
    [
      ['a', '1.5'],
      ['longer', '123'],
    ],
    (l) => lines.push(l),
  );
  t.deepEqual(lines.slice(2), ['name    MiB/s', '------  -----', 'a         1.5', 'longer    123']);
  t.is(fmtRatio(3, 2), '1.50×');
  t.is(fmtRatio(1, 0), '–');
  t.is(fmtRatio(undefined, 2), '–');
});
