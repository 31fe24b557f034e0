// Reads are served concurrently: while a reader waits on a slow source (every read of one stream
// takes 3 s), reads of another file through the same mount complete at full speed.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMounted, run, seededBytes, sh } from './helpers.js';

const SERVER = fileURLToPath(new URL('./slow-mount.js', import.meta.url));

test('a slow read does not hold up reads of other files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-fuse-conc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const slow = join(dir, 'slow.img');
  const fast = join(dir, 'fast.img');
  await writeFile(slow, seededBytes(4 * 1024 * 1024, 1));
  await writeFile(fast, seededBytes(4 * 1024 * 1024, 2));
  const mp = join(dir, 'mnt');
  await mkdir(mp);
  const server = spawn(process.execPath, [SERVER, mp, slow, fast, '3000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => server.on('exit', r));
  t.teardown(async () => {
    server.kill('SIGTERM');
    await exited;
    if (await isMounted(mp)) await run('fusermount3', ['-u', '-z', mp]);
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    server.on('exit', () => reject(new Error('server exited')));
  });
  // Look both files up first (directory listings read the slow stream's partition table).
  await sh(`ls ${mp}/slow ${mp}/fast`);
  const t0 = Date.now();
  const slowRead = sh(`dd if=${mp}/slow/disk.img of=/dev/null bs=64k count=1 skip=17 status=none`);
  await new Promise((r) => setTimeout(r, 200));
  const fastRead = await sh(`cmp ${mp}/fast/disk.img ${fast} && echo same`);
  const fastDone = Date.now() - t0;
  t.is(fastRead.stdout.trim(), 'same', fastRead.stderr);
  t.true(fastDone < 2500, `the fast file took ${fastDone} ms while a slow read was pending`);
  const s = await slowRead;
  t.is(s.code, 0, s.stderr);
  t.true(Date.now() - t0 >= 3000, 'the slow read really was slow');
});
