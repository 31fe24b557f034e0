// libfuse 2 starts a worker thread whenever all are busy and ends one whenever more than 10 are
// idle; fuse-native leaks a uv_async handle per thread it sees, so a mount whose pool keeps
// churning gets slower the longer it serves. A long sequential read must leave the pool steady:
// the server's thread ids are sampled while dd streams 1 GiB through the mount. The same read
// shows the server's slab decodes running niced behind the threads that answer requests.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSparseImage, packArchive, startMount } from './helpers.js';

const GiB = 1024 ** 3;

async function threadIds(pid: number): Promise<string[]> {
  return readdir(`/proc/${pid}/task`).catch(() => []);
}

/** Nice value of each of a process's threads (field 19 of /proc/…/stat), by thread id. */
async function niceByThread(pid: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const tid of await threadIds(pid)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length > 16) out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

test('a 1 GiB sequential read does not make libfuse create and retire worker threads', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-fuse-pool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Mostly holes (served without decoding, so requests arrive as fast as the transport allows —
  // the worst case for churn), with data at both ends so the stream is not trivial.
  const image = await makeSparseImage(join(dir, 'sparse.img'), GiB, [0, GiB - (1 << 20)], 1 << 20, 3);
  const archive = await packArchive(dir, [{ path: image, name: 'sparse' }]);
  const m = await startMount(archive, join(dir, 'mnt'), ['-s', 'sparse']);
  t.teardown(() => m.stop());
  const pid = m.child.pid!;

  const before = new Set(await threadIds(pid));
  const seen = new Set(before);
  const dd = spawn('dd', [`if=${join(m.mp, 'disk.img')}`, 'of=/dev/null', 'bs=1M', 'status=none'], { stdio: 'ignore' });
  let done = false;
  const ddExit = new Promise<number | null>((resolve) =>
    dd.on('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  while (!done) {
    for (const id of await threadIds(pid)) seen.add(id);
    await new Promise((r) => setTimeout(r, 5));
  }
  t.is(await ddExit, 0);
  const created = seen.size - before.size;
  t.log(`server threads before: ${before.size}, new during the read: ${created}`);
  // A steady pool adds its workers once (measured: 7–8 new threads); with the kernel's default
  // max_background of 12 the pool churns (measured: 45–49, and ≈ 600 over a cold 2 GiB archive read).
  t.true(created <= 16, `${created} threads appeared during the read: libfuse's worker pool is churning`);

  // Slabs were decoded (the data at both ends): the pool threads that did it run at nice 10.
  const nice = await niceByThread(pid);
  t.is(nice.get(pid), 0, 'the event loop thread keeps its priority');
  t.true(
    [...nice.values()].some((n) => n === 10),
    `no thread at nice 10: ${[...nice.values()].join(',')}`,
  );
  t.is(await m.stop(), 0);
});
