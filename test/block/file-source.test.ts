// FileBlockSource.open takes regular files and block devices only, and never blocks: a FIFO
// without a writer (which a plain open would wait on forever, on a pool thread no signal
// reaches), a character device and a directory are refused at once as bad input.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileBlockSource } from '../../src/block/file-source.js';
import { isDiskarcError } from '../../src/errors.js';
import { run, tempDir } from '../archive/harness.js';

/** Rejects when `p` has not settled within `ms` (so a blocked open fails the test, not hangs it). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

test('a FIFO without a writer, a character device and a directory are refused at once (EINPUT)', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'fifo');
  t.is((await run('mkfifo', [fifo])).code, 0);
  for (const [path, says] of [
    [fifo, /is a pipe \(FIFO\), not a file or block device/],
    ['/dev/zero', /is a character device, not a file or block device/],
    [dir, /is a directory/],
  ] as const) {
    const e = await t.throwsAsync(within(FileBlockSource.open(path), 2000));
    t.true(isDiskarcError(e, 'EINPUT'), `${path}: ${e?.message}`);
    t.regex(e!.message, says);
  }
});

test('a regular file opens with its size and reads back', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'f');
  await writeFile(path, Buffer.from('hello, disk'));
  const src = await FileBlockSource.open(path);
  t.is(src.size, 11);
  t.is((await src.read(7, 4)).toString(), 'disk');
  await src.close();
});
