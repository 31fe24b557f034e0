// Source references: `--image FILE[:pN]` and `-a DIR -s STREAM[:pN]` open the right bytes (compared
// with the image file itself) and fail with clear, typed errors.
import test from 'ava';
import { copyFile, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSource } from '../../src/block/source.js';
import { isDiskarcError } from '../../src/errors.js';
import { openSourceRef, splitPartitionSuffix } from '../../src/cli/source-ref.js';
import { detectFilesystem } from '../../fs/partitions/index.js';
import { archivedFixtures, type ArchivedFixtures } from '../fixtures/partitions/archive.js';
import { sfdiskJson } from '../fixtures/partitions/disks.js';

let af: ArchivedFixtures;
test.before(async () => {
  af = await archivedFixtures();
});
test.after.always(async () => {
  await af?.cleanup();
});

async function fileBytes(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}

async function readAll(src: BlockSource): Promise<Buffer> {
  return src.read(0, src.size);
}

test('splitPartitionSuffix', (t) => {
  t.deepEqual(splitPartitionSuffix('disk:p12'), { base: 'disk', partition: 12 });
  t.deepEqual(splitPartitionSuffix('disk'), { base: 'disk' });
  t.deepEqual(splitPartitionSuffix('a:b:p1'), { base: 'a:b', partition: 1 });
  t.deepEqual(splitPartitionSuffix('disk:px'), { base: 'disk:px' });
  t.throws(() => splitPartitionSuffix('disk:p0'), { message: /partition numbers start at 1/ });
});

test('--image FILE is the whole file; FILE:pN is partition N, byte for byte (sfdisk offsets)', async (t) => {
  const whole = await openSourceRef({ image: af.fx.mbr });
  try {
    t.is(whole.label, af.fx.mbr);
    t.is(whole.partition, undefined);
    t.is(whole.source.size, (await stat(af.fx.mbr)).size);
  } finally {
    await whole.close();
  }
  const sf = (await sfdiskJson(af.fx.mbr)).partitions.find((p) => p.node.endsWith('5'))!;
  const p5 = await openSourceRef({ image: `${af.fx.mbr}:p5` });
  try {
    t.is(p5.label, `${af.fx.mbr}:p5`);
    t.is(p5.partition?.index, 5);
    t.is(p5.source.size, sf.size * 512);
    t.true((await readAll(p5.source)).equals(await fileBytes(af.fx.mbr, sf.start * 512, sf.size * 512)));
    t.is(await detectFilesystem(p5.source), 'ext4');
  } finally {
    await p5.close();
  }
});

test('-a DIR -s STREAM:pN reads partition N of the archived stream, equal to the image bytes', async (t) => {
  const sf = (await sfdiskJson(af.fx.gpt)).partitions.find((p) => p.node.endsWith('3'))!;
  for (const ref of ['gpt-disk:p3', `${af.ids['gpt-disk']}:p3`, `${af.ids['gpt-disk']!.slice(0, 6)}:p3`]) {
    const o = await openSourceRef({ archive: af.archive, stream: ref });
    try {
      t.is(o.label, 'gpt-disk:p3', ref);
      t.is(o.stream?.id, af.ids['gpt-disk']);
      t.is(o.source.size, sf.size * 512);
      t.is(o.disk.size, 96 * 1024 * 1024);
      t.true((await readAll(o.source)).equals(await fileBytes(af.fx.gpt, sf.start * 512, sf.size * 512)), ref);
      t.is(await detectFilesystem(o.source), 'ntfs');
    } finally {
      await o.close();
    }
  }
  const whole = await openSourceRef({ archive: af.archive, stream: 'mbr-disk' });
  try {
    t.is(whole.label, 'mbr-disk');
    t.is(whole.source, whole.disk);
  } finally {
    await whole.close();
  }
});

test('an unknown partition number is ENOTFOUND listing the valid ones', async (t) => {
  const err = await t.throwsAsync(openSourceRef({ archive: af.archive, stream: 'gpt-disk:p5' }));
  t.true(isDiskarcError(err, 'ENOTFOUND'));
  t.is(
    err!.message,
    'gpt-disk has no partition 5; its GPT lists p1 (vfat, 34.0 MiB), p2 (Microsoft reserved, 1.00 MiB), ' +
      'p3 (ntfs, 16.0 MiB), p4 (ext4, 16.0 MiB), p7 (swap, 8.00 MiB)',
  );
  t.deepEqual((err as { details?: { partitions?: number[] } }).details?.partitions, [1, 2, 3, 4, 7]);
});

test('pN of a source without a partition table is EFS', async (t) => {
  const err = await t.throwsAsync(openSourceRef({ archive: af.archive, stream: 'ntfs-volume:p1' }));
  t.true(isDiskarcError(err, 'EFS'));
  t.regex(err!.message, /ntfs-volume has no partition table/);
  const img = await t.throwsAsync(openSourceRef({ image: `${af.fx.filesystems.ntfs}:p1` }));
  t.true(isDiskarcError(img, 'EFS'));
});

test('usage errors: both kinds of source, a stream without an archive, nothing at all; missing stream and file', async (t) => {
  const usage = [{ image: af.fx.mbr, stream: 'mbr-disk', archive: af.archive }, { stream: 'mbr-disk' }, {}, { archive: af.archive }];
  for (const opts of usage) {
    const err = await t.throwsAsync(openSourceRef(opts));
    t.true(isDiskarcError(err, 'EUSAGE'), JSON.stringify(opts));
  }
  t.true(isDiskarcError(await t.throwsAsync(openSourceRef({ archive: af.archive, stream: 'nope:p1' })), 'ENOSTREAM'));
  t.true(isDiskarcError(await t.throwsAsync(openSourceRef({ image: '/nonexistent/disk.img:p1' })), 'EINPUT'));
  t.true(isDiskarcError(await t.throwsAsync(openSourceRef({ archive: join(af.archive, 'missing'), stream: 'x' })), 'ENOARCHIVE'));
  // An archive from $DISKARC_ARCHIVE does not get in the way of --image.
  const o = await openSourceRef({ archive: af.archive, image: af.fx.gpt });
  await o.close();
  t.is(o.label, af.fx.gpt);
});

test('a file whose own name ends in ":pN" is that file, not a partition of another', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-srcref-'));
  try {
    const odd = join(dir, 'disk.img:p2');
    await copyFile(af.fx.filesystems.swap, odd);
    const o = await openSourceRef({ image: odd });
    try {
      t.is(o.partition, undefined);
      t.is(await detectFilesystem(o.source), 'swap');
    } finally {
      await o.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
