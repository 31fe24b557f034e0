// checkArchive's verdicts that are not damage trials: crash debris and a stale lock are notes (the
// archive stays clean, exit 0), slabs no stream references are counted, and a missing data/
// directory is damage naming every stream that had slabs in it.
import test, { type ExecutionContext } from 'ava';
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkArchive } from '../../../src/archive/check/index.js';
import { diskarc, seededBytes, tempDir } from '../harness.js';

async function archiveWithOneStream(t: ExecutionContext): Promise<string> {
  const dir = await tempDir(t);
  const arc = join(dir, 'arc');
  await writeFile(join(dir, 'in.img'), Buffer.concat([seededBytes(300 * 1024, 9), Buffer.alloc(64 * 1024)]));
  t.is((await diskarc('create', '-a', arc, '--slab-size', '64KiB')).code, 0);
  t.is((await diskarc('pack', '-a', arc, join(dir, 'in.img'))).code, 0);
  return arc;
}

test('crash debris and a stale lock are noted, not damage', async (t) => {
  const arc = await archiveWithOneStream(t);
  await appendFile(join(arc, 'data', '000000.slab'), seededBytes(100, 3)); // a torn append
  await mkdir(join(arc, 'streams', '.tmp-0123456789abcdef'));
  await writeFile(join(arc, 'data', '000001.slab.tmp'), Buffer.alloc(16));
  // The pid of a process that has exited: a lock a killed pack left behind.
  const dead = spawnSync('true').pid;
  await writeFile(join(arc, 'lock'), `${dead}\n`);
  const r = await checkArchive(arc);
  t.true(r.clean, JSON.stringify(r.problems));
  t.true(r.streams.every((s) => s.intact));
  const noted = r.notes.map((n) => n.file).sort();
  t.deepEqual(noted, ['data/000000.slab', 'data/000001.slab.tmp', 'lock', 'streams/.tmp-0123456789abcdef']);
  t.regex(r.notes.find((n) => n.file === 'data/000000.slab')!.message, /^100 bytes after the last slab/);
  t.is(r.slabs.unreferenced, 0);
  t.true(r.bytesRead > 0);
});

test('a stream removed by hand leaves its slabs unreferenced: counted, not damage', async (t) => {
  const arc = await archiveWithOneStream(t);
  const before = await checkArchive(arc);
  await rm(join(arc, 'streams', before.streams[0].id), { recursive: true });
  const r = await checkArchive(arc);
  t.true(r.clean);
  t.is(r.streams.length, 0);
  t.is(r.slabs.unreferenced, before.slabs.total);
  t.true(r.slabs.unreferencedBytes > 300 * 1024 * 0.9);
});

test('a missing data/ directory damages every stream, whole ranges of its data', async (t) => {
  const arc = await archiveWithOneStream(t);
  await rm(join(arc, 'data'), { recursive: true });
  const r = await checkArchive(arc);
  t.false(r.clean);
  t.true(r.problems.some((p) => p.file === 'data' && p.kind === 'missing-file'));
  t.false(r.streams[0].intact);
  // Every data extent is damaged; the zero tail (a fill) needs no slab and is not.
  t.deepEqual(r.streams[0].damagedRanges, [[0, 300 * 1024]]);
});
