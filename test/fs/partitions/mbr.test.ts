// MBR damage: extended-partition chains that loop, leave the container or lose their signature
// are EFS errors naming the record; a boot indicator other than 0/0x80 means "not an MBR";
// a truncated image keeps what is readable, with warnings.
import test from 'ava';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { isDiskarcError } from '../../../src/errors.js';
import { readPartitionTable } from '../../../fs/partitions/index.js';
import { partitionFixtures } from '../../fixtures/partitions/disks.js';
import { OverlaySource, type Patch } from '../../fixtures/partitions/overlay-source.js';

/** Opens the fixture MBR disk and hands over a damaged view of it, plus its extended partition's first sector. */
async function damaged(patchesFor: (extLba: number) => Patch[], size?: number) {
  const fx = await partitionFixtures();
  const base = await FileBlockSource.open(fx.mbr);
  const ext = (await readPartitionTable(base))!.partitions.find((p) => p.extended)!;
  const extLba = ext.start / 512;
  return { src: new OverlaySource(base, size ?? base.size, patchesFor(extLba)), extLba, close: () => base.close() };
}

/** The first EBR's link entry (entry 2) keeps the next EBR's sector, relative to the extended partition, at byte 446+16+8. */
const LINK_FIRST_LBA = 446 + 16 + 8;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

test('an EBR chain that links back to itself is EFS "loops", not a hang', async (t) => {
  const d = await damaged((ext) => [{ offset: ext * 512 + LINK_FIRST_LBA, data: u32(0) }]);
  try {
    const err = await t.throwsAsync(readPartitionTable(d.src));
    t.true(isDiskarcError(err, 'EFS'));
    t.is(err!.message, `the extended partition's chain loops back to the extended boot record at sector ${d.extLba}`);
  } finally {
    await d.close();
  }
});

test('an EBR link outside the extended partition is EFS naming the sector', async (t) => {
  const d = await damaged((ext) => [{ offset: ext * 512 + LINK_FIRST_LBA, data: u32(0x7fffffff) }]);
  try {
    const err = await t.throwsAsync(readPartitionTable(d.src));
    t.true(isDiskarcError(err, 'EFS'));
    t.regex(err!.message, new RegExp(`extended boot record at sector ${d.extLba + 0x7fffffff} lies outside the extended partition`));
  } finally {
    await d.close();
  }
});

test('an EBR without its 0x55AA signature is EFS', async (t) => {
  const d = await damaged((ext) => [{ offset: ext * 512 + 510, data: Buffer.from([0, 0]) }]);
  try {
    const err = await t.throwsAsync(readPartitionTable(d.src));
    t.true(isDiskarcError(err, 'EFS'));
    t.is(err!.message, `extended boot record at sector ${d.extLba} has no 0x55AA signature`);
  } finally {
    await d.close();
  }
});

test('a boot indicator other than 0x00/0x80 in sector 0 means there is no MBR', async (t) => {
  const d = await damaged(() => [{ offset: 446, data: Buffer.from([0x42]) }]);
  try {
    t.is(await readPartitionTable(d.src), null);
  } finally {
    await d.close();
  }
});

test('a truncated disk keeps its readable partitions and warns about the rest', async (t) => {
  // Cut at 20 MiB: inside p2 (17–25 MiB), before the extended partition's first EBR (33 MiB).
  const d = await damaged(() => [], 20 * 1024 * 1024);
  try {
    const table = (await readPartitionTable(d.src))!;
    t.deepEqual(
      table.partitions.map((p) => p.index),
      [1, 2, 3, 4],
    );
    t.is(table.partitions[0]!.filesystem, 'vfat');
    t.is(table.warnings.length, 4);
    t.regex(table.warnings.join('\n'), /partition 2 \(sectors 34816–51199\) extends beyond the end of the disk/);
    t.regex(table.warnings.join('\n'), /logical partitions from 5 on are missing/);
  } finally {
    await d.close();
  }
});

test('an MBR whose boot code carries a FAT BPB (as GRUB keeps one) is still an MBR', async (t) => {
  const fx = await partitionFixtures();
  const fat = await FileBlockSource.open(fx.filesystems.fat16);
  const bpb = await fat.read(0, 0x5a);
  await fat.close();
  const d = await damaged(() => [{ offset: 0, data: bpb }]);
  try {
    const table = (await readPartitionTable(d.src))!;
    t.is(table.scheme, 'mbr');
    t.deepEqual(
      table.partitions.map((p) => p.index),
      [1, 2, 3, 4, 5, 6, 7],
    );
  } finally {
    await d.close();
  }
});

test('overlapping partitions are listed with a warning naming them', async (t) => {
  // Make partition 2 start where partition 1 does (entry 2's first LBA at byte 446+16+8).
  const d = await damaged(() => [{ offset: 446 + 16 + 8, data: u32(2048) }]);
  try {
    const table = (await readPartitionTable(d.src))!;
    t.deepEqual(table.warnings, ['partitions 1 and 2 overlap']);
  } finally {
    await d.close();
  }
});
