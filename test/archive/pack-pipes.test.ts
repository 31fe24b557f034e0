// pack of inputs that are not files: pipes and stdin pack their actual bytes (verified by the
// digest of the stream read back), a FIFO without a writer waits but yields to SIGINT/SIGTERM,
// and character devices (/dev/zero, /dev/null) are refused as bad input (exit 5).
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, diskarc, diskarcJson, run, tempDir } from './harness.js';

interface Packed {
  id: string;
  name: string;
  size: number;
  digest: string;
  verified: boolean;
  input: string;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Unpacks a stream and returns its bytes. */
async function unpacked(archive: string, dir: string, stream: string): Promise<Buffer> {
  const out = join(dir, `out-${stream}`);
  await diskarcJson('unpack', '-a', archive, '-s', stream, out, '--create');
  return readFile(out);
}

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const archive = join(dir, 'arc');
  await diskarcJson('create', '-a', archive);
  // Random data with a zero run inside, so fills are found in a stream of unknown length too.
  const bytes = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(300 << 10), randomBytes((1 << 20) + 777)]);
  const src = join(dir, 'src');
  await writeFile(src, bytes);
  return { dir, archive, bytes, src };
}

test('a shell pipe into `pack -` packs its bytes; --name is required', async (t) => {
  const { dir, archive, bytes, src } = await setup(t);
  const r = await run('sh', ['-c', `cat "${src}" | "${process.execPath}" "${CLI}" pack -a "${archive}" - --name piped --json`]);
  t.is(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout) as Packed & { fillBytes: number };
  t.is(p.input, 'pipe');
  t.is(p.size, bytes.length);
  t.is(p.digest, sha(bytes));
  t.true(p.verified);
  t.true(p.fillBytes >= 256 << 10, 'the zero run became a fill');
  t.true((await unpacked(archive, dir, 'piped')).equals(bytes), 'unpacked bytes equal the piped ones');

  const noName = await run('sh', ['-c', `cat "${src}" | "${process.execPath}" "${CLI}" pack -a "${archive}" -`]);
  t.is(noName.code, 2, noName.stderr);
  t.regex(noName.stderr, /needs a stream name: add --name/);
});

test('/dev/stdin on a pipe, and stdin as a socket (how Node spawns children), pack their bytes', async (t) => {
  const { dir, archive, bytes, src } = await setup(t);
  const viaDevStdin = await run('sh', ['-c', `cat "${src}" | "${process.execPath}" "${CLI}" pack -a "${archive}" /dev/stdin --name devstdin --json`]);
  t.is(viaDevStdin.code, 0, viaDevStdin.stderr);
  t.is((JSON.parse(viaDevStdin.stdout) as Packed).size, bytes.length);
  t.true((await unpacked(archive, dir, 'devstdin')).equals(bytes));

  const child = spawn(process.execPath, [CLI, 'pack', '-a', archive, '-', '--name', 'socket', '--json'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.end(bytes);
  t.is(await code, 0, stderr);
  t.is((JSON.parse(stdout) as Packed).digest, sha(bytes));
  t.true((await unpacked(archive, dir, 'socket')).equals(bytes));
});

test('a FIFO with a writer packs its bytes; an empty pipe is an empty stream', async (t) => {
  const { dir, archive, bytes, src } = await setup(t);
  const fifo = join(dir, 'fifo');
  t.is((await run('mkfifo', [fifo])).code, 0);
  const writer = run('sh', ['-c', `cat "${src}" > "${fifo}"`]);
  const p = await diskarcJson<Packed>('pack', '-a', archive, fifo);
  t.is((await writer).code, 0);
  t.is(p.name, 'fifo');
  t.is(p.size, bytes.length);
  t.true((await unpacked(archive, dir, p.id)).equals(bytes));

  const empty = await run('sh', ['-c', `: | "${process.execPath}" "${CLI}" pack -a "${archive}" - --name empty --json`]);
  t.is(empty.code, 0, empty.stderr);
  t.is((JSON.parse(empty.stdout) as Packed).size, 0);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`a FIFO nobody writes to: pack waits, and ${signal} ends it at once (exit 130, no lock left)`, async (t) => {
    const { dir, archive } = await setup(t);
    const fifo = join(dir, 'fifo');
    t.is((await run('mkfifo', [fifo])).code, 0);
    const child = spawn(process.execPath, [CLI, 'pack', '-a', archive, fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Waiting for a writer, with the lock taken.
    const lock = join(archive, 'lock');
    for (let i = 0; i < 100; i++) {
      if (await access(lock).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    const sent = Date.now();
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(timer);
    t.is(code, 130, stderr);
    t.true(Date.now() - sent < 3000, `exited ${Date.now() - sent} ms after the signal`);
    t.regex(stderr, /interrupted/);
    t.false((await readdir(archive)).includes('lock'), 'lock released');
    t.deepEqual((await readdir(join(archive, 'streams'))), [], 'no stream, no temporary directory');
  });
}

test('character devices are refused as bad input (exit 5), pointing at the pipe form', async (t) => {
  const { archive } = await setup(t);
  for (const dev of ['/dev/zero', '/dev/null']) {
    const r = await diskarc('pack', '-a', archive, dev, '--json');
    t.is(r.code, 5, `${dev}: ${r.stderr}`);
    t.regex(r.stderr, new RegExp(`${dev} is a character device.*diskarc pack -a ARCHIVE - --name NAME`));
    t.is(JSON.parse(r.stdout).error.code, 'EINPUT');
  }
  t.deepEqual(await readdir(join(archive, 'streams')), [], 'nothing was stored');
});

test('`pack -` with a file redirected to stdin reads it as a file; a character device on stdin is refused', async (t) => {
  const { dir, archive, bytes, src } = await setup(t);
  const r = await run('sh', ['-c', `"${process.execPath}" "${CLI}" pack -a "${archive}" - --name redirected --json < "${src}"`]);
  t.is(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout) as Packed;
  t.is(p.input, 'file');
  t.is(p.size, bytes.length);
  t.true((await unpacked(archive, dir, 'redirected')).equals(bytes));
  const nul = await run('sh', ['-c', `"${process.execPath}" "${CLI}" pack -a "${archive}" - --name nul < /dev/null`]);
  t.is(nul.code, 5, nul.stderr);
  t.regex(nul.stderr, /standard input is a terminal or character device/);
});
