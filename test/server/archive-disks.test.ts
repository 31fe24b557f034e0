// The default slab cache budget of `diskarc serve` and `diskarc mount`: what the served streams
// can reference, capped by a share of physical memory, never below the archive's own default
// unless the data is smaller.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultServeCacheBytes, openArchiveForServing } from '../../server/archive-disks.js';
import { diskarcJson, seededBytes, tempDir } from '../archive/harness.js';
import type { StreamInfo } from '../../src/archive/stream-info.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function stream(mapped: number, fill = 0, dup = 0): StreamInfo {
  return { mappedSize: mapped, fillBytes: fill, duplicateBytes: dup } as StreamInfo;
}

test('the budget holds the served data, capped at a quarter of RAM but not below the archive default', (t) => {
  const a = stream(1400 * MiB, 8 * MiB, 75 * MiB);
  const slab = MiB;
  // Fits: unique data plus one partial slab per stream and one spare.
  t.is(defaultServeCacheBytes([a], [a], 256 * MiB, slab, 24 * GiB), (1400 - 8 - 75) * MiB + 2 * slab);
  // RAM-bound: a quarter of 4 GiB.
  t.is(defaultServeCacheBytes([a], [a], 256 * MiB, slab, 4 * GiB), 1 * GiB);
  // Tiny machine: the archive default is the floor of the cap.
  t.is(defaultServeCacheBytes([a], [a], 256 * MiB, slab, 512 * MiB), 256 * MiB);
  // Small data: no more than it needs, even below the archive default.
  const small = stream(10 * MiB);
  t.is(defaultServeCacheBytes([small], [small], 256 * MiB, slab, 24 * GiB), 12 * MiB);
  // Serving one stream of several: what that stream maps, not the whole archive.
  const big = stream(20 * GiB);
  t.is(defaultServeCacheBytes([small, big], [small], 256 * MiB, slab, 24 * GiB), 10 * MiB + 3 * slab);
});

test('openArchiveForServing sizes the cache for the selected streams, or takes the given budget', async (t) => {
  const dir = await tempDir(t);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive);
  await writeFile(join(dir, 'small'), seededBytes(3 * MiB, 1));
  await writeFile(join(dir, 'big'), seededBytes(9 * MiB, 2));
  await diskarcJson('pack', '-a', archive, join(dir, 'small'), '--name', 'small');
  await diskarcJson('pack', '-a', archive, join(dir, 'big'), '--name', 'big');
  const one = await openArchiveForServing(archive, ['small']);
  t.teardown(() => one.archive.close());
  t.deepEqual(
    one.streams.map((s) => s.name),
    ['small'],
  );
  const all = await one.archive.listStreams();
  t.is(
    one.archive.cache.budget,
    defaultServeCacheBytes(all, one.streams, one.archive.config.dataCacheMiB * MiB, one.archive.config.slabSize),
  );
  t.true(one.archive.cache.budget < 4 * MiB, 'sized to the 3 MiB stream, not the archive default');
  const both = await openArchiveForServing(archive, []);
  t.teardown(() => both.archive.close());
  t.is(both.streams.length, 2);
  // Every stream: the set grows as streams are packed, so never below the archive's default.
  t.is(both.archive.cache.budget, both.archive.config.dataCacheMiB * MiB);
  const fixed = await openArchiveForServing(archive, ['big'], 5 * MiB);
  t.teardown(() => fixed.archive.close());
  t.is(fixed.archive.cache.budget, 5 * MiB);
  await t.throwsAsync(openArchiveForServing(archive, ['nope']), { code: 'ENOSTREAM' } as never);
});
