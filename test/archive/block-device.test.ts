// Block devices (loop devices over files): pack takes the size from the device, unpack restores
// onto a device of exactly that size (discarding unmapped ranges, or writing zeros) and refuses
// one of another size.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskarc, diskarcJson, run, seededBytes, tempDir, writeSparse } from './harness.js';

async function loopDevice(t: Parameters<typeof tempDir>[0], file: string): Promise<string> {
  const r = await run('losetup', ['--find', '--show', file]);
  if (r.code !== 0) throw new Error(`losetup failed (this test needs root and loop devices): ${r.stderr}`);
  const dev = r.stdout.trim();
  t.teardown(() => run('losetup', ['-d', dev]));
  return dev;
}

test('pack from and unpack to loop devices', async (t) => {
  const dir = await tempDir(t);
  const size = 48 * 1024 * 1024;
  const src = join(dir, 'src.img');
  await writeSparse(src, size, [{ offset: 4096 * 3, data: seededBytes(1000000, 1) }, { offset: 30 * 1024 * 1024, data: seededBytes(77777, 2) }]);
  const srcDev = await loopDevice(t, src);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  const packed = await diskarcJson<{ id: string; size: number }>('pack', '-a', archive, srcDev, '--name', 'loop');
  t.is(packed.size, size, 'size comes from the device');

  const dst = join(dir, 'dst.img');
  await writeFile(dst, Buffer.alloc(size, 0xcc));
  const dstDev = await loopDevice(t, dst);
  const r = await diskarcJson<{ bytesWritten: number; holeBytes: number }>('unpack', '-a', archive, '-s', 'loop', dstDev);
  t.true(r.bytesWritten + r.holeBytes >= size - 4096 * 3, JSON.stringify(r));
  t.is((await run('cmp', [srcDev, dstDev])).code, 0, 'device content equals the source, holes included');
  t.is((await diskarc('verify', '-a', archive, '-s', 'loop', dstDev)).code, 0);

  const small = join(dir, 'small.img');
  await writeFile(small, Buffer.alloc(size - 1024 * 1024, 0xdd));
  const smallDev = await loopDevice(t, small);
  const refused = await diskarc('unpack', '-a', archive, '-s', 'loop', smallDev);
  t.is(refused.code, 6);
  t.regex(refused.stderr, /nothing was written/);
});
