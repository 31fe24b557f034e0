// Files larger than 4 GiB through the mount: a sparse 5 GiB stream (packed quickly, holes are not
// read) with data on both sides of the 4 GiB boundary and at the very end, read back with dd at
// byte offsets above 4 GiB and compared with the original.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSparseImage, packArchive, sh, startMount } from './helpers.js';

const GiB = 1024 ** 3;
const SIZE = 5 * GiB + 4096 + 17;
const MARKS = [0, 4 * GiB - 65536, 4 * GiB + 12345, 4.5 * GiB, SIZE - 300_000];

test('reads at offsets above 4 GiB return the original bytes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-fuse-big-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const image = await makeSparseImage(join(dir, 'big.img'), SIZE, MARKS, 200_000, 50);
  const archive = await packArchive(dir, [{ path: image, name: 'big' }]);
  const m = await startMount(archive, join(dir, 'mnt'), ['-s', 'big']);
  t.teardown(() => m.stop());
  const mounted = join(m.mp, 'disk.img');
  t.is(Number((await sh(`stat -c %s ${mounted}`)).stdout.trim()), SIZE);
  // Ranges straddling each mark (data and hole around it), compared through sha256.
  const ranges = [...MARKS.map((at) => [Math.max(0, at - 5000), 210_000]), [4 * GiB - 7, 14], [SIZE - 4096, 4096], [SIZE - 1, 1]];
  for (const [skip, count] of ranges) {
    const cmd = (f: string) => `dd if=${f} iflag=skip_bytes,count_bytes skip=${skip} count=${count} bs=1M status=none | sha256sum`;
    const [a, b] = await Promise.all([sh(cmd(mounted)), sh(cmd(image))]);
    t.is(a.stdout, b.stdout, `range ${skip}+${count}`);
    t.regex(a.stdout, /^[0-9a-f]{64}/);
  }
  // Past the end: nothing, not an error.
  const past = await sh(`dd if=${mounted} iflag=skip_bytes skip=${SIZE + 10} bs=4096 count=1 status=none | wc -c`);
  t.is(past.stdout.trim(), '0');
  t.is(await m.stop(), 0);
});
