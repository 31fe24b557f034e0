// verify: finds a flipped byte in a slab file and a changed byte in the input, naming the
// stream and offset; bad input of every class gets its own exit code and damages nothing.
import test from 'ava';
import { open, readdir, readFile, writeFile, truncate, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, diskarc, diskarcJson, seededBytes, tempDir, uncommittedStreams } from './harness.js';

async function packed(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const input = join(dir, 'in');
  await writeFile(input, seededBytes(3 * 1024 * 1024 + 5, 42));
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive, '--compression', 'none');
  const p = await diskarcJson<{ id: string }>('pack', '-a', archive, input, '--name', 'disk');
  return { dir, input, archive, id: p.id };
}

test('verify against the input names the first differing offset', async (t) => {
  const { input, archive, id } = await packed(t);
  t.is((await diskarc('verify', '-a', archive, '-s', 'disk', input)).code, 0);
  const fh = await open(input, 'r+');
  await fh.write(Buffer.from([0xff ^ seededBytes(2000001, 42)[2000000]]), 0, 1, 2000000);
  await fh.close();
  const r = await diskarc('verify', '-a', archive, '-s', id, input);
  t.is(r.code, 7);
  t.regex(r.stderr, new RegExp(`stream ${id} \\(disk\\) differs from .* at offset 2000000`));
});

test('verify without input detects a flipped byte in a slab file', async (t) => {
  const { archive, id } = await packed(t);
  t.is((await diskarc('verify', '-a', archive, '-s', id)).code, 0);
  const slab = join(archive, 'data', '000000.slab');
  const fh = await open(slab, 'r+');
  const at = 16 + 24 + 1000; // file header + first slab header + 1000 bytes into its payload
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] ^= 0x10;
  await fh.write(b, 0, 1, at);
  await fh.close();
  const r = await diskarc('verify', '-a', archive, '-s', id, '--json');
  t.is(r.code, 8);
  t.regex(r.stderr, new RegExp(`stream ${id} \\(disk\\).*offset 0.*checksum`));
  const err = JSON.parse(r.stdout).error;
  t.is(err.code, 'ECORRUPT');
  t.is(err.stream, id);
  // Reading the damaged range also fails clearly rather than returning wrong bytes.
  const u = await diskarc('unpack', '-a', archive, '-s', id, join(archive, '..', 'out'), '--create');
  t.is(u.code, 8);
});

test('each class of bad input has its own exit code', async (t) => {
  const { dir, archive, id } = await packed(t);
  t.is((await diskarc('list', '-a', join(dir, 'nope'))).code, 3);
  t.is((await diskarc('info', '-a', archive, '-s', 'nosuchstream')).code, 4);
  t.is((await diskarc('pack', '-a', archive, join(dir, 'missing-input'))).code, 5);
  t.is((await diskarc('create', '-a', archive)).code, 2, 'create refuses a non-empty directory');
  t.is((await diskarc('pack', '-a', archive)).code, 2, 'missing argument is a usage error');
  t.is((await diskarc('create', '-a', join(dir, 'x'), '--block-size', '3000')).code, 2, 'invalid settings are a usage error');
  // A truncated stream map is reported as corruption, and other streams stay readable.
  const other = await diskarcJson<{ id: string }>('pack', '-a', archive, join(dir, 'in'), '--name', 'second');
  const mapPath = join(archive, 'streams', id, 'map');
  await truncate(mapPath, (await stat(mapPath)).size - 10);
  const r = await diskarc('verify', '-a', archive, '-s', id);
  t.is(r.code, 8, r.stderr);
  t.regex(r.stderr, /map page 0 .*truncated|truncated/);
  t.is((await diskarc('verify', '-a', archive, '-s', other.id)).code, 0, 'the other stream is untouched');
});

test('Ctrl-C during pack exits promptly, and the interrupted stream never appears', async (t) => {
  const { dir, archive, id } = await packed(t);
  const big = join(dir, 'big');
  await writeFile(big, seededBytes(64 * 1024 * 1024, 3));
  const child = spawn(process.execPath, [CLI, 'pack', '-a', archive, big, '--name', 'interrupted'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Interrupt once pack is under way (its stream map exists, its meta.json not yet).
  for (let i = 0; i < 600; i++) {
    if ((await uncommittedStreams(archive)).length > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const sent = Date.now();
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.true(Date.now() - sent < 10000, 'exits within 10 s of the signal');
  if (code === 0) {
    t.log('pack finished before the signal arrived; the stream is complete');
  } else {
    t.is(code, 130, stderr);
    const list = await diskarcJson<{ streams: Array<{ name: string }> }>('list', '-a', archive);
    t.false(list.streams.some((s) => s.name === 'interrupted'));
    t.deepEqual(await uncommittedStreams(archive), [], 'no uncommitted stream left');
  }
  t.is((await diskarc('verify', '-a', archive, '-s', id)).code, 0, 'earlier stream intact');
  // The archive still takes new streams after the interruption.
  const again = await diskarcJson<{ id: string }>('pack', '-a', archive, big, '--name', 'after');
  t.is((await diskarc('verify', '-a', archive, '-s', again.id, big)).code, 0);
  t.true((await readFile(big)).length > 0);
});

test('verify of a sparse input reads only data ranges yet sees a byte written into a former hole', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'sparse');
  const size = 64 * 1024 * 1024;
  const fh0 = await open(input, 'w');
  await fh0.truncate(size);
  await fh0.write(seededBytes(50000, 1), 0, 50000, 10 * 1024 * 1024 + 3);
  await fh0.close();
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  const p = await diskarcJson<{ id: string }>('pack', '-a', archive, input);
  t.is((await diskarc('verify', '-a', archive, '-s', p.id, input)).code, 0);
  const fh = await open(input, 'r+');
  await fh.write(Buffer.from([1]), 0, 1, 40 * 1024 * 1024 + 77);
  await fh.close();
  const r = await diskarc('verify', '-a', archive, '-s', p.id, input);
  t.is(r.code, 7);
  t.regex(r.stderr, new RegExp(`at offset ${40 * 1024 * 1024 + 77}`));
});

test('a stream with damaged metadata is named by list, and the others stay usable', async (t) => {
  const { dir, archive, id } = await packed(t);
  const other = await diskarcJson<{ id: string }>('pack', '-a', archive, join(dir, 'in'), '--name', 'healthy');
  await writeFile(join(archive, 'streams', id, 'meta.json'), '{"truncated": ');
  const r = await diskarc('list', '-a', archive, '--json');
  t.is(r.code, 8, r.stderr);
  const out = JSON.parse(r.stdout) as { streams: Array<{ id: string }>; damaged: Array<{ stream: string }> };
  t.deepEqual(out.streams.map((s) => s.id), [other.id]);
  t.deepEqual(out.damaged.map((d) => d.stream), [id]);
  t.regex(r.stderr, new RegExp(`stream ${id}: metadata .* is unreadable`));
  t.is((await diskarc('verify', '-a', archive, '-s', other.id)).code, 0);
  t.is((await diskarc('info', '-a', archive, '-s', id)).code, 8, 'asking for the damaged stream by id names the damage');
});
