// detectFilesystem / probeFilesystem against blkid on images made by the real mkfs tools:
// TYPE, LABEL and UUID must be what `blkid -p` reports.
import test from 'ava';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { detectFilesystem, identifyFilesystem, probeFilesystem, WindowSource } from '../../../fs/partitions/index.js';
import { bareFilesystems, blkidIdentity, blkidType, partitionFixtures } from '../../fixtures/partitions/disks.js';

test('every bare filesystem image is identified as blkid -p identifies it', async (t) => {
  const fx = await partitionFixtures();
  const found: Record<string, string | undefined> = {};
  for (const name of bareFilesystems) {
    const src = await FileBlockSource.open(fx.filesystems[name]);
    try {
      found[name] = await detectFilesystem(src);
      t.is(found[name], await blkidType(fx.filesystems[name]), name);
    } finally {
      await src.close();
    }
  }
  // Guard against both sides saying "nothing": each fixture must really be recognised.
  t.deepEqual(found, {
    btrfs: 'btrfs',
    ext2: 'ext2',
    ext3: 'ext3',
    ext4: 'ext4',
    fat12: 'vfat',
    fat16: 'vfat',
    fat32: 'vfat',
    iso9660: 'iso9660',
    ntfs: 'ntfs',
    squashfs: 'squashfs',
    swap: 'swap',
    xfs: 'xfs',
  });
});

test("labels and UUIDs equal blkid's (ext, FAT12/32, NTFS with a Unicode label, xfs, btrfs, swap, iso9660)", async (t) => {
  const fx = await partitionFixtures();
  const labelled = new Set<string>();
  for (const name of bareFilesystems) {
    const src = await FileBlockSource.open(fx.filesystems[name]);
    try {
      const ours = await probeFilesystem(src);
      t.deepEqual(ours, await blkidIdentity(fx.filesystems[name]), name);
      if (ours?.label) labelled.add(name);
    } finally {
      await src.close();
    }
  }
  t.deepEqual([...labelled].sort(), ['btrfs', 'ext2', 'fat12', 'fat32', 'iso9660', 'ntfs', 'swap', 'xfs']);
});

test('a window too small to hold a superblock is "unknown", never an out-of-range read', async (t) => {
  const fx = await partitionFixtures();
  const src = await FileBlockSource.open(fx.filesystems.btrfs);
  try {
    // btrfs keeps its magic at 64 KiB; a 64 KiB window cannot show it.
    t.is(await detectFilesystem(new WindowSource(src, 0, 64 * 1024)), undefined);
    t.is(await detectFilesystem(new WindowSource(src, 0, 0)), undefined);
    t.is(await detectFilesystem(new WindowSource(src, 0, 100)), undefined);
  } finally {
    await src.close();
  }
});

test('zeros and random bytes are not a filesystem', (t) => {
  t.is(identifyFilesystem(Buffer.alloc(70000)), undefined);
  t.is(identifyFilesystem(Buffer.alloc(0)), undefined);
});
