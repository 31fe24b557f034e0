// unpack: refuses a wrongly sized destination, minimal writes touch only changed chunks
// (counted independently with strace), --create of a sparse stream makes a sparse file.
import test from 'ava';
import { copyFile, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, diskarc, diskarcJson, run, seededBytes, tempDir, writeSparse } from './harness.js';

test('unpack refuses a destination of the wrong size and writes nothing', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in');
  await writeFile(input, seededBytes(1024 * 1024, 5));
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, input);
  const small = join(dir, 'small');
  await writeFile(small, Buffer.alloc(4096, 7));
  const r = await diskarc('unpack', '-a', archive, '-s', id, small);
  t.is(r.code, 6);
  t.regex(r.stderr, /4096 bytes but the stream is 1048576 bytes; nothing was written/);
  t.true((await readFile(small)).equals(Buffer.alloc(4096, 7)));
  t.is((await diskarc('unpack', '-a', archive, '-s', id, join(dir, 'missing'))).code, 6);
  t.is((await diskarc('unpack', '-a', archive, '-s', id, small, '--create')).code, 6, '--create refuses an existing file');
});

test('--minimal-writes writes only the chunks that differ', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in');
  await writeFile(input, seededBytes(16 * 1024 * 1024, 9));
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, input);
  const dest = join(dir, 'dest');
  await copyFile(input, dest);
  const changed = [100, 5 * 1024 * 1024 + 7, 15 * 1024 * 1024];
  const fh = await open(dest, 'r+');
  for (const off of changed) await fh.write(Buffer.from('CHANGED'), 0, 7, off);
  await fh.close();
  const trace = join(dir, 'trace');
  const r = await run('strace', ['-f', '-qq', '-e', 'trace=pwrite64,pwritev,write', '-o', trace, process.execPath, CLI, 'unpack', '-a', archive, '-s', id, dest, '--minimal-writes', '--json']);
  t.is(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { writes: number; bytesWritten: number };
  t.is(result.writes, changed.length);
  t.true(result.bytesWritten < 3 * 32 * 1024, `${result.bytesWritten} bytes rewritten`);
  const pwrites = (await readFile(trace, 'utf8')).split('\n').filter((l) => /pwrite64\(|pwritev\(/.test(l));
  t.is(pwrites.length, changed.length, pwrites.join('\n'));
  t.true((await readFile(dest)).equals(await readFile(input)));
});

test('--create of a sparse stream yields a sparse file; restoring onto an existing file clears holes', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'sparse');
  const size = 512 * 1024 * 1024;
  await writeSparse(input, size, [{ offset: 1234567, data: seededBytes(300000, 1) }, { offset: 400 * 1024 * 1024, data: seededBytes(200000, 2) }]);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, input);
  const out = join(dir, 'out');
  await diskarcJson('unpack', '-a', archive, '-s', id, out, '--create');
  const st = await stat(out);
  t.is(st.size, size);
  t.true(st.blocks * 512 < 4 * 1024 * 1024, `allocated ${st.blocks * 512}`);
  t.is((await run('cmp', [input, out])).code, 0);
  // Onto an existing file full of junk: holes must read back as zeros.
  const junk = join(dir, 'junk');
  await writeFile(junk, Buffer.alloc(size, 0x77));
  await diskarcJson('unpack', '-a', archive, '-s', id, junk);
  t.is((await run('cmp', [input, junk])).code, 0);
});

test('--minimal-writes clears junk inside a long hole and leaves zero stretches alone', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'sparse');
  const size = 64 * 1024 * 1024;
  await writeSparse(input, size, [{ offset: 0, data: seededBytes(100000, 4) }, { offset: 60 * 1024 * 1024, data: seededBytes(100000, 5) }]);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, input);
  const dest = join(dir, 'dest');
  await copyFile(input, dest);
  const fh = await open(dest, 'r+');
  await fh.write(Buffer.from('junk in the middle of a 60 MiB hole'), 0, 35, 30 * 1024 * 1024);
  await fh.close();
  const r = await diskarcJson<{ unchangedBytes: number }>('unpack', '-a', archive, '-s', id, dest, '--minimal-writes');
  t.true(r.unchangedBytes > 50 * 1024 * 1024, `${r.unchangedBytes} bytes left alone`);
  t.is((await run('cmp', [input, dest])).code, 0);
});
