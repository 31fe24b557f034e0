// readPartitionTable against the real tools: the fixture disks made by sfdisk / sgdisk / fdisk must
// list exactly what `sfdisk --json` (or `fdisk -b 4096 -l`) reports, and each partition's
// filesystem must be what blkid finds at that offset.
import test from 'ava';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { readPartitionTable, type PartitionTable } from '../../../fs/partitions/index.js';
import { assertSameAsSfdisk } from '../../fixtures/partitions/compare.js';
import { bareFilesystems, blkidIdentity, partitionFixtures, run, sfdiskJson } from '../../fixtures/partitions/disks.js';

async function tableOf(path: string): Promise<PartitionTable | null> {
  const src = await FileBlockSource.open(path);
  try {
    return await readPartitionTable(src);
  } finally {
    await src.close();
  }
}

test('MBR disk with an extended partition lists exactly what sfdisk --json reports', async (t) => {
  const fx = await partitionFixtures();
  const ours = await tableOf(fx.mbr);
  if (!ours) return t.fail('no table found');
  const theirs = await sfdiskJson(fx.mbr);
  t.true(theirs.partitions.length >= 7, 'fixture has 3 primaries, an extended and 3 logicals');
  assertSameAsSfdisk(t, ours, theirs);
  t.deepEqual(ours.warnings, []);
  const ext = ours.partitions.find((p) => p.index === 4)!;
  t.true(ext.extended);
  t.is(ext.filesystem, undefined);
  t.is(ours.partitions.find((p) => p.index === 1)!.uuid, '1234abcd-01');
});

test('GPT disk lists exactly what sfdisk --json reports (names, GUIDs, attributes, numbering gaps)', async (t) => {
  const fx = await partitionFixtures();
  const ours = await tableOf(fx.gpt);
  if (!ours) return t.fail('no table found');
  const theirs = await sfdiskJson(fx.gpt);
  assertSameAsSfdisk(t, ours, theirs);
  t.is(ours.header, 'primary');
  t.deepEqual(ours.warnings, []);
  t.deepEqual(ours.usable, { start: theirs.firstlba! * 512, end: (theirs.lastlba! + 1) * 512 });
  t.deepEqual(
    ours.partitions.map((p) => p.index),
    [1, 2, 3, 4, 7],
  );
  t.is(ours.partitions[2]!.name, 'Données Windows');
  t.is(ours.partitions[2]!.typeName, 'Microsoft basic data');
  t.is(ours.partitions[2]!.attributes, '0x9000000000000000');
  t.true(ours.partitions[3]!.bootable);
});

test('GPT with 4096-byte sectors is found by probing and matches fdisk -b 4096', async (t) => {
  const fx = await partitionFixtures();
  const ours = await tableOf(fx.gpt4k);
  if (!ours) return t.fail('no table found');
  t.is(ours.sectorSize, 4096);
  const out = await run('fdisk', ['-b', '4096', '-l', '-o', 'Device,Start,Sectors,Type-UUID,UUID', fx.gpt4k]);
  const id = /Disk identifier: (\S+)/.exec(out)![1];
  t.is(ours.diskId, id);
  const rows = out
    .split('\n')
    .filter((l) => l.startsWith(fx.gpt4k))
    .map((l) => l.trim().split(/\s+/));
  t.is(rows.length, 2);
  t.deepEqual(
    ours.partitions.map((p) => [p.index, p.start, p.size, p.type, p.uuid]),
    rows.map(([dev, start, sectors, type, uuid]) => [
      Number(dev!.slice(fx.gpt4k.length)),
      Number(start) * 4096,
      Number(sectors) * 4096,
      type,
      uuid,
    ]),
  );
});

test('MBR with 4096-byte sectors: the sector size is inferred and the table matches fdisk -b 4096', async (t) => {
  const fx = await partitionFixtures();
  const ours = await tableOf(fx.mbr4k);
  if (!ours) return t.fail('no table found');
  t.is(ours.sectorSize, 4096);
  const out = await run('fdisk', ['-b', '4096', '-l', '-o', 'Device,Start,Sectors,Id', fx.mbr4k]);
  t.is(ours.diskId, /Disk identifier: (\S+)/.exec(out)![1]);
  const rows = out
    .split('\n')
    .filter((l) => l.startsWith(fx.mbr4k))
    .map((l) => l.trim().split(/\s+/));
  t.is(rows.length, 4);
  t.deepEqual(
    ours.partitions.map((p) => [p.index, p.start, p.size, parseInt(p.type, 16)]),
    rows.map(([dev, start, sectors, id]) => [
      Number(dev!.slice(fx.mbr4k.length)),
      Number(start) * 4096,
      Number(sectors) * 4096,
      parseInt(id!, 16),
    ]),
  );
  // Forcing 512-byte sectors reads the same bytes the way sfdisk does: the logical chain is not there.
  const src = await FileBlockSource.open(fx.mbr4k);
  try {
    await t.throwsAsync(readPartitionTable(src, { sectorSize: 512 }), { message: /has no 0x55AA signature/ });
  } finally {
    await src.close();
  }
});

test("each partition's filesystem type, label and UUID equal blkid -p at its offset", async (t) => {
  const fx = await partitionFixtures();
  const seen = new Set<string>();
  for (const disk of [fx.mbr, fx.gpt, fx.gpt4k, fx.mbr4k]) {
    const ours = (await tableOf(disk))!;
    for (const p of ours.partitions) {
      if (p.extended) continue;
      const expected = await blkidIdentity(disk, p.start, p.size);
      t.deepEqual(
        { type: p.filesystem, label: p.label, uuid: p.filesystemUuid },
        { type: undefined, label: undefined, uuid: undefined, ...expected },
        `${disk} p${p.index}`,
      );
      if (expected.type) seen.add(expected.type);
    }
  }
  // The fixtures are meant to cover these; if a mkfs silently failed, say so.
  t.deepEqual([...seen].sort(), ['ext2', 'ext3', 'ext4', 'ntfs', 'swap', 'vfat']);
});

test('a bare filesystem (no partition table) gives null, including boot-sector formats with 0x55AA', async (t) => {
  const fx = await partitionFixtures();
  for (const name of bareFilesystems) {
    t.is(await tableOf(fx.filesystems[name]), null, name);
  }
});
