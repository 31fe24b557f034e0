// GPT damage: a zeroed or corrupt primary header / entry array is read from the backup (and
// equals sfdisk's listing of the intact disk); damage to both copies is a clear EFS error.
import test from 'ava';
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { isDiskarcError } from '../../../src/errors.js';
import { readPartitionTable } from '../../../fs/partitions/index.js';
import { assertSameAsSfdisk } from '../../fixtures/partitions/compare.js';
import { partitionFixtures, run, sfdiskJson } from '../../fixtures/partitions/disks.js';
import { OverlaySource } from '../../fixtures/partitions/overlay-source.js';

async function withDamagedCopy<T>(
  src: string,
  damage: Array<{ offset: number; data: Buffer }>,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-gpt-'));
  const path = join(dir, 'disk.img');
  try {
    await copyFile(src, path);
    const fh = await open(path, 'r+');
    for (const d of damage) await fh.write(d.data, 0, d.data.length, d.offset);
    await fh.close();
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tableOf(path: string) {
  const src = await FileBlockSource.open(path);
  try {
    return await readPartitionTable(src);
  } finally {
    await src.close();
  }
}

test('zeroed primary GPT header: the table is read from the backup and equals sfdisk on the intact disk', async (t) => {
  const fx = await partitionFixtures();
  const intact = await sfdiskJson(fx.gpt);
  await withDamagedCopy(fx.gpt, [{ offset: 512, data: Buffer.alloc(512) }], async (path) => {
    const ours = await tableOf(path);
    if (!ours) return t.fail('no table');
    t.is(ours.header, 'backup');
    t.regex(ours.warnings.join('\n'), /primary GPT header at LBA 1 has no "EFI PART" signature; using the backup/);
    assertSameAsSfdisk(t, ours, intact);
    // sgdisk agrees the disk is still readable from its backup, with the same partitions.
    const sg = await run('sgdisk', ['-p', path]).catch((e: { stdout: string }) => e.stdout);
    const rows = sg
      .split('\n')
      .filter((l) => /^\s+\d+\s+\d+\s+\d+/.test(l))
      .map((l) => l.trim().split(/\s+/).slice(0, 3).map(Number));
    t.deepEqual(
      rows,
      ours.partitions.map((p) => [p.index, p.start / 512, (p.start + p.size) / 512 - 1]),
    );
  });
});

test('primary entry array failing its CRC falls back to the backup', async (t) => {
  const fx = await partitionFixtures();
  const intact = await sfdiskJson(fx.gpt);
  // LBA 2 holds the primary entry array; change one byte of entry 1's name.
  await withDamagedCopy(fx.gpt, [{ offset: 2 * 512 + 60, data: Buffer.from([0x41]) }], async (path) => {
    const ours = (await tableOf(path))!;
    t.is(ours.header, 'backup');
    t.regex(ours.warnings[0]!, /entry array fails its CRC32 check/);
    assertSameAsSfdisk(t, ours, intact);
  });
});

test('a corrupt backup header is only a warning when the primary is intact', async (t) => {
  const fx = await partitionFixtures();
  const base = await FileBlockSource.open(fx.gpt);
  try {
    const last = base.size - 512;
    const ours = (await readPartitionTable(new OverlaySource(base, base.size, [{ offset: last + 30, data: Buffer.from([0xff]) }])))!;
    t.is(ours.header, 'primary');
    t.regex(ours.warnings.join('\n'), /backup GPT header at LBA \d+ (fails its CRC32 check|says it is at LBA)/);
  } finally {
    await base.close();
  }
});

test('both GPT headers damaged: EFS naming both problems', async (t) => {
  const fx = await partitionFixtures();
  const base = await FileBlockSource.open(fx.gpt);
  try {
    const src = new OverlaySource(base, base.size, [
      { offset: 512 + 20, data: Buffer.from([1]) },
      { offset: base.size - 512 + 20, data: Buffer.from([1]) },
    ]);
    const err = await t.throwsAsync(readPartitionTable(src));
    t.true(isDiskarcError(err, 'EFS'));
    t.regex(err!.message, /primary GPT header at LBA 1 fails its CRC32 check.*backup GPT header at LBA \d+ fails its CRC32 check/);
  } finally {
    await base.close();
  }
});

test('a protective MBR with no GPT anywhere is EFS, not "no partition table"', async (t) => {
  const fx = await partitionFixtures();
  const base = await FileBlockSource.open(fx.gpt);
  try {
    const src = new OverlaySource(base, base.size, [
      { offset: 512, data: Buffer.alloc(512) },
      { offset: base.size - 512, data: Buffer.alloc(512) },
    ]);
    const err = await t.throwsAsync(readPartitionTable(src));
    t.true(isDiskarcError(err, 'EFS'));
    t.regex(err!.message, /protective MBR/);
  } finally {
    await base.close();
  }
});

test('a truncated GPT disk still lists its partitions from the primary, with a warning', async (t) => {
  const fx = await partitionFixtures();
  const base = await FileBlockSource.open(fx.gpt);
  try {
    const ours = (await readPartitionTable(new OverlaySource(base, 60 * 1024 * 1024, [])))!;
    t.is(ours.header, 'primary');
    t.is(ours.partitions.length, 5);
    t.regex(ours.warnings.join('\n'), /image truncated\?/);
  } finally {
    await base.close();
  }
});
