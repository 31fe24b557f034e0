// Byte-exact pack → unpack round trips over the shapes of input the issue names.
import test, { type ExecutionContext } from 'ava';
import { readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { diskarc, diskarcJson, run, seededBytes, tempDir, writeSparse } from './harness.js';

async function roundTrip(t: ExecutionContext, dir: string, input: string, extraCreate: string[] = []) {
  const archive = join(dir, 'archive');
  await diskarcJson('create', '-a', archive, ...extraCreate);
  const packed = await diskarcJson<{ id: string; size: number; verified: boolean; digest: string }>('pack', '-a', archive, input);
  t.true(packed.verified, 'pack reads the stream back by default');
  const out = join(dir, 'restored');
  await diskarcJson('unpack', '-a', archive, '-s', packed.id, out, '--create');
  const cmp = await run('cmp', [input, out]);
  t.is(cmp.code, 0, `cmp: ${cmp.stdout}${cmp.stderr}`);
  const sha = await run('sha256sum', [input]);
  t.is(packed.digest, `sha256:${sha.stdout.split(' ')[0]}`, 'stream digest is the SHA-256 of the content');
  const self = await diskarc('verify', '-a', archive, '-s', packed.id);
  t.is(self.code, 0, self.stderr);
  return { archive, packed, out };
}

for (const size of [0, 1, 4095, 4097, 5 * 1024 * 1024 + 12345]) {
  test(`random data of ${size} bytes round-trips`, async (t) => {
    const dir = await tempDir(t);
    const input = join(dir, 'in');
    await writeFile(input, seededBytes(size, size + 7));
    const { packed } = await roundTrip(t, dir, input);
    t.is(packed.size, size);
  });
}

test('all zeros are stored as fills, not data', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'zeros');
  await writeFile(input, Buffer.alloc(8 * 1024 * 1024 + 100));
  const { packed } = await roundTrip(t, dir, input);
  const info = packed as unknown as { fillBytes: number; dataWritten: number };
  t.true(info.fillBytes >= 8 * 1024 * 1024, `fills ${info.fillBytes}`);
  t.true(info.dataWritten < 4096, `data written ${info.dataWritten}`);
});

test('a run of 0xFF is a fill and mixed fills round-trip', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'fills');
  await writeFile(input, Buffer.concat([seededBytes(10000, 1), Buffer.alloc(1 << 20, 0xff), seededBytes(777, 2), Buffer.alloc(300000, 0x5a)]));
  const { packed } = await roundTrip(t, dir, input);
  t.true((packed as unknown as { fillBytes: number }).fillBytes >= (1 << 20) + 290000);
});

test('a sparse file with scattered data round-trips and stays sparse', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'sparse');
  const size = 256 * 1024 * 1024 + 513;
  const pieces = [0, 3, 17, 64, 100, 200, 255].map((mib, i) => ({ offset: mib * 1024 * 1024 + i * 4096, data: seededBytes(100000 + i * 3333, i + 11) }));
  await writeSparse(input, size, pieces);
  const { packed, out } = await roundTrip(t, dir, input);
  const p = packed as unknown as { mappedSize: number; bytesRead: number };
  t.true(p.bytesRead < 8 * 1024 * 1024, `pack read only mapped data (${p.bytesRead} bytes)`);
  const st = await stat(out);
  t.true(st.blocks * 512 < 16 * 1024 * 1024, `restored file allocates ${st.blocks * 512} bytes of ${size}`);
});

test('a real ext4 filesystem image round-trips and stays valid', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'fs.img');
  await run('truncate', ['-s', '64M', input]);
  const mk = await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', '/usr/share/common-licenses', input]);
  t.is(mk.code, 0, mk.stderr);
  const { out } = await roundTrip(t, dir, input);
  const fsck = await run('e2fsck', ['-fn', out]);
  t.is(fsck.code, 0, fsck.stdout + fsck.stderr);
  t.true((await readFile(out)).equals(await readFile(input)));
});

test('slab files roll over past their size limit and streams span them', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in');
  await writeFile(input, seededBytes(6 * 1024 * 1024 + 3, 99));
  const { archive } = await roundTrip(t, dir, input, ['--slab-size', '256k', '--slab-file-limit', '1MiB']);
  const files = (await readdir(join(archive, 'data'))).filter((n) => n.endsWith('.slab'));
  t.true(files.length >= 5, `${files.length} slab files`);
  // A second pack appends (or rolls over) and dedups against chunks in every file.
  const again = await diskarcJson<{ dataWritten: number }>('pack', '-a', archive, input);
  t.is(again.dataWritten, 0);
});
