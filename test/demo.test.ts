// `npm start` (dist/src/demo.js): generates and packs the sample disk, serves it, and prints
// connection commands — which this test runs verbatim, then stops the demo with Ctrl-C (SIGINT).
import test from 'ava';
import { spawn } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, tempDir } from './protocols/nbd/helpers.js';

const demo = fileURLToPath(new URL('../src/demo.js', import.meta.url));

test('the demo serves the packed sample disk and every printed command works', async (t) => {
  const tmp = await tempDir('demo');
  const dir = join(tmp.dir, 'demo');
  const child = spawn(process.execPath, [demo, '--dir', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const commands = out.split('\n').filter((l) => l.startsWith('  $ ')).map((l) => l.slice(4));
    t.true(commands.length >= 5, out);
    t.true(commands.some((c) => c.startsWith('nbdinfo')) && commands.some((c) => c.startsWith('qemu-img info')) && commands.some((c) => c.startsWith('nbdcopy')));
    for (const c of commands) {
      const r = await run('bash', ['-c', c], { timeoutMs: 120000 });
      t.is(r.code, 0, `${c}\n${r.stdout}${r.stderr}`);
      if (c.startsWith('nbdinfo --list')) t.regex(r.stdout, /export="sample\/p1"/);
      if (c.startsWith('qemu-img info')) t.regex(r.stdout, /virtual size: 64 MiB/);
      if (c.startsWith('nbdinfo --map')) t.regex(r.stdout, /hole,zero/);
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
