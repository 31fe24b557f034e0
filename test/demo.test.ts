// `npm start` (dist/src/demo.js): generates and packs the sample disk, serves it, and prints
// connection commands — which this test runs verbatim, then stops the demo with Ctrl-C (SIGINT).
// Run by the real `npm start`, the demo stops with npm, whether npm gets SIGTERM or SIGKILL.
import test from 'ava';
import { spawn } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, tempDir } from './protocols/nbd/helpers.js';

const demo = fileURLToPath(new URL('../src/demo.js', import.meta.url));

test('the demo serves the packed sample disk and every printed command works', async (t) => {
  const tmp = await tempDir('demo');
  const dir = join(tmp.dir, 'demo');
  const child = spawn(process.execPath, [demo, '--dir', dir, '--port', '0', '--webdav-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    for (let i = 0; i < 1200 && !out.includes('Press Ctrl-C'); i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.true(out.includes('Press Ctrl-C'), `demo did not become ready:\n${out}\n${err}`);
    const commands = out
      .split('\n')
      .filter((l) => l.startsWith('  $ '))
      .map((l) => l.slice(4));
    t.true(commands.length >= 5, out);
    t.true(
      commands.some((c) => c.startsWith('nbdinfo')) &&
        commands.some((c) => c.startsWith('qemu-img info')) &&
        commands.some((c) => c.startsWith('nbdcopy')),
    );
    t.true(commands.some((c) => c.startsWith('rclone')) && commands.some((c) => c.startsWith('curl')), 'WebDAV commands printed');
    for (const c of commands) {
      const r = await run('bash', ['-c', c], { timeoutMs: 120000 });
      t.is(r.code, 0, `${c}\n${r.stdout}${r.stderr}`);
      if (c.startsWith('nbdinfo --list')) t.regex(r.stdout, /export="sample\/p1"/);
      if (c.startsWith('qemu-img info')) t.regex(r.stdout, /virtual size: 64 MiB/);
      if (c.startsWith('nbdinfo --map')) t.regex(r.stdout, /hole,zero/);
      if (c.startsWith('rclone')) t.deepEqual(r.stdout.trim().split('\n').sort(), ['disk.img', 'info.json', 'p1.img', 'p2.img']);
      if (c.startsWith('curl -s http')) t.is(JSON.parse(r.stdout).partitionTable.partitions.length, 2);
    }
    const image = await readFile(join(dir, 'sample-disk.img'));
    t.true((await readFile(join(dir, 'restored.img'))).equals(image));
    t.true((await readFile(join(dir, 'p1.img'))).equals(image.subarray(1 << 20, 32 << 20)));
    child.kill('SIGINT');
    t.is(await exited, 0, err);
    t.regex(out, /stopped\./);
    await t.throwsAsync(access(join(dir, 'nbd.sock')), undefined, 'socket file removed');
  } finally {
    child.kill('SIGKILL');
    await tmp.cleanup();
  }
});

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The process's state letter from /proc (Z: a zombie), or undefined once it is gone. */
async function procState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });

/** Runs the real `npm start` on a temp dir; resolves once the demo (npm's child) has been found. */
async function npmStart(t: { teardown(fn: () => unknown): void; readonly passed: boolean }, dir: string) {
  // --ignore-scripts skips only prestart (the build, already done): npm still runs "start".
  const npm = spawn('npm', ['start', '--ignore-scripts', '--', '--dir', dir, '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const io = { out: '', err: '' };
  npm.stdout.on('data', (d: Buffer) => (io.out += d.toString()));
  npm.stderr.on('data', (d: Buffer) => (io.err += d.toString()));
  let demoPid = 0;
  t.teardown(() => {
    if (demoPid && !t.passed) process.kill(demoPid, 'SIGKILL');
  });
  // The start script execs node: the demo is npm's own child, not a shell's.
  for (let i = 0; i < 200 && !demoPid && npm.exitCode === null; i++) {
    const children = (await readFile(`/proc/${npm.pid}/task/${npm.pid}/children`, 'utf8').catch(() => ''))
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    for (const pid of children) if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('demo.js')) demoPid = pid;
    if (!demoPid) await new Promise((r) => setTimeout(r, 50));
  }
  return { npm, io, demoPid };
}

/** Waits (at most `limitMs`) for a process to end; resolves with how long it took, or undefined. */
async function ended(pid: number, limitMs: number): Promise<number | undefined> {
  const t0 = Date.now();
  for (;;) {
    const state = await procState(pid);
    if (state === undefined || state === 'Z') return Date.now() - t0;
    if (Date.now() - t0 > limitMs) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test.serial(`npm start: ${signal} to npm stops the demo within seconds (port and socket gone)`, async (t) => {
    const tmp = await tempDir('demo-npm');
    t.teardown(() => tmp.cleanup());
    const dir = join(tmp.dir, 'demo');
    const { npm, io, demoPid } = await npmStart(t, dir);
    t.true(demoPid > 0, 'the demo is a child of npm itself');
    for (let i = 0; i < 1200 && !io.out.includes('Press Ctrl-C') && npm.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 100));
    t.true(io.out.includes('Press Ctrl-C'), `demo did not become ready:\n${io.out}\n${io.err}`);
    const port = Number(/127\.0\.0\.1:(\d+):/.exec(io.out)?.[1]);
    t.true(await portOpen(port));

    npm.kill(signal);
    const ms = await ended(demoPid, 10000);
    t.true(ms !== undefined && ms < 5000, `the demo was still running ${ms ?? 10000} ms after npm got ${signal}`);
    t.false(await portOpen(port), 'its port is closed');
    await t.throwsAsync(access(join(dir, 'nbd.sock')), undefined, 'its socket file is removed (a graceful stop)');
  });
}

test.serial('npm start: npm killed while the demo is still packing — the demo stops once it would serve', async (t) => {
  const tmp = await tempDir('demo-npm-early');
  t.teardown(() => tmp.cleanup());
  const dir = join(tmp.dir, 'demo');
  const { npm, io, demoPid } = await npmStart(t, dir);
  t.true(demoPid > 0);
  // Once the demo runs (it has written the sample disk), before it serves.
  for (let i = 0; i < 600 && !io.out.includes('wrote ') && npm.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  t.false(io.out.includes('Press Ctrl-C'), 'killed before serving');
  npm.kill('SIGKILL');
  // Packing the 64 MiB sample takes a few seconds; then the demo must not stay on as a server.
  const ms = await ended(demoPid, 60000);
  t.true(ms !== undefined, `the demo outlived npm:\n${io.out}\n${io.err}`);
  await t.throwsAsync(access(join(dir, 'nbd.sock')), undefined, 'no socket left behind');
});
