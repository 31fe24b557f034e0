// WindowSource: reading partition N equals `dd skip=… count=…` of the disk; extents and prefetch
// are translated and clipped; out-of-window reads are ERANGE.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { isDiskarcError } from '../../../src/errors.js';
import type { BlockSource, Extent } from '../../../src/block/source.js';
import { openPartition, readPartitionTable, WindowSource } from '../../../fs/partitions/index.js';
import { partitionFixtures, run } from '../../fixtures/partitions/disks.js';

async function readAll(src: BlockSource): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; off < src.size; off += 4 << 20) parts.push(await src.read(off, Math.min(4 << 20, src.size - off)));
  return Buffer.concat(parts);
}

test('every partition read through its window equals dd of the disk at that offset', async (t) => {
  const fx = await partitionFixtures();
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-window-'));
  try {
    for (const disk of [fx.mbr, fx.gpt, fx.gpt4k, fx.mbr4k]) {
      const src = await FileBlockSource.open(disk);
      try {
        const table = (await readPartitionTable(src))!;
        for (const p of table.partitions) {
          const out = join(dir, `p${p.index}`);
          const ss = table.sectorSize;
          await run('dd', [`if=${disk}`, `of=${out}`, `bs=${ss}`, `skip=${p.start / ss}`, `count=${p.size / ss}`, 'status=none']);
          const win = openPartition(src, p);
          t.is(win.size, p.size);
          t.true((await readAll(win)).equals(await readFile(out)), `${disk} p${p.index}`);
        }
      } finally {
        await src.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A parent that records calls, to see the translation. */
class Recorder implements BlockSource {
  calls: string[] = [];
  constructor(
    readonly size: number,
    private readonly map: Extent[],
  ) {}
  async read(offset: number, length: number) {
    this.calls.push(`read ${offset}+${length}`);
    return Buffer.alloc(length, 7);
  }
  async extents(offset: number, length: number) {
    this.calls.push(`extents ${offset}+${length}`);
    return this.map;
  }
  async prefetch(offset: number, length: number) {
    this.calls.push(`prefetch ${offset}+${length}`);
  }
  async close() {}
}

test('reads, extents and prefetch are translated into the parent and clipped to the window', async (t) => {
  const parent = new Recorder(10000, [
    { offset: 0, length: 1500, kind: 'data' },
    { offset: 1500, length: 1000, kind: 'hole' },
    { offset: 2500, length: 7500, kind: 'zero' },
  ]);
  const w = new WindowSource(parent, 1000, 3000);
  t.is(w.size, 3000);
  await w.read(10, 20);
  await w.prefetch(2900, 500);
  t.deepEqual(await w.extents(0, 5000), [
    { offset: 0, length: 500, kind: 'data' },
    { offset: 500, length: 1000, kind: 'hole' },
    { offset: 1500, length: 1500, kind: 'zero' },
  ]);
  t.deepEqual(parent.calls, ['read 1010+20', 'prefetch 3900+100', 'extents 1000+3000']);
  const err = await t.throwsAsync(w.read(2990, 11));
  t.true(isDiskarcError(err, 'ERANGE'));
});

test('a window running past its parent is clipped to the parent', async (t) => {
  const parent = new Recorder(10000, []);
  t.is(new WindowSource(parent, 9000, 5000).size, 1000);
  t.is(new WindowSource(parent, 20000, 5000).size, 0);
  t.throws(() => new WindowSource(parent, -1, 5));
});

test("extents of a partition on a sparse file match the file's holes", async (t) => {
  const fx = await partitionFixtures();
  const src = await FileBlockSource.open(fx.gpt);
  try {
    const table = (await readPartitionTable(src))!;
    const p = table.partitions.find((x) => x.filesystem === 'ext4')!;
    const win = openPartition(src, p);
    const ext = await win.extents(0, win.size);
    t.is(
      ext.reduce((n, e) => n + e.length, 0),
      win.size,
    );
    t.is(ext[0]!.offset, 0);
    t.true(
      ext.some((e) => e.kind === 'hole'),
      'a fresh ext4 in a sparse file has holes',
    );
    const direct = await src.extents(p.start, p.size);
    t.deepEqual(
      ext,
      direct.map((e) => ({ ...e, offset: e.offset - p.start })),
    );
  } finally {
    await src.close();
  }
});
