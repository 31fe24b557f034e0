// The default slab cache budget of `diskarc serve`: what the served streams can reference, capped
// by a share of physical memory, never below the archive's own default unless the data is smaller.
import test from 'ava';
import { defaultServeCacheBytes } from '../../server/archive-disks.js';
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
