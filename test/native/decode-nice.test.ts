// setDecodeNice: pool threads take the nice value before their next slab job, read back from
// /proc for every thread of this process (each test file runs in its own process). The thread
// that runs JavaScript is never touched.
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { compress } from 'zstd-napi';
import { native, zstdDecompress } from '../../native/index.js';

/** Nice value of every thread of this process, by thread id (field 19 of /proc/…/stat). */
async function niceByThread(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length > 16) out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

test('decoding threads take the nice value set; the JavaScript thread keeps its own', async (t) => {
  const data = Buffer.alloc(1 << 20, 'diskarc ');
  const frame = compress(data);
  // Before: every thread at 0 (jobs have run, so the pool exists).
  await Promise.all(Array.from({ length: 8 }, () => zstdDecompress(frame, data.length)));
  t.false(
    [...(await niceByThread()).values()].some((n) => n !== 0),
    'nothing is niced before it is asked for',
  );

  native.setDecodeNice(10);
  await Promise.all(Array.from({ length: 16 }, () => zstdDecompress(frame, data.length)));
  const after = await niceByThread();
  t.is(after.get(process.pid), 0, 'the event loop thread is not niced');
  const niced = [...after.values()].filter((n) => n === 10).length;
  t.true(niced >= 1, `${niced} threads at nice 10`);
  t.true(niced <= 4, 'only pool threads (4 by default) take it');

  t.throws(() => native.setDecodeNice(20), { message: /0\.\.19/ });
  t.throws(() => native.setDecodeNice(-1), { message: /0\.\.19/ });
});
