// checkArchive's verdicts that are not damage trials: crash debris and a stale lock are notes (the
// archive stays clean, exit 0), slabs no stream references are counted, and a missing data/
// directory is damage naming every stream that had slabs in it.
import test, { type ExecutionContext } from 'ava';
import { appendFile, mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
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

test('a cut offsets index misaddresses later files; removing it, as check advises, makes every stream verify again', async (t) => {
  const dir = await tempDir(t);
  const arc = join(dir, 'arc');
  await writeFile(join(dir, 'a.img'), seededBytes(640 * 1024, 21));
  await writeFile(join(dir, 'b.img'), seededBytes(640 * 1024, 22));
  t.is((await diskarc('create', '-a', arc, '--slab-size', '64KiB', '--slab-file-limit', '256KiB')).code, 0);
  for (const n of ['a', 'b']) t.is((await diskarc('pack', '-a', arc, join(dir, `${n}.img`))).code, 0);
  const index = join(arc, 'data', '000000.slab.offsets');
  await truncate(index, 8);
  const cut = await checkArchive(arc);
  t.false(cut.clean);
  t.true(cut.problems.some((p) => p.kind === 'numbering-shifted' && p.file === 'data/000000.slab.offsets'));
  const advice = cut.problems.find((p) => p.kind === 'index-mismatch')!;
  t.regex(advice.message, /remove data\/000000\.slab\.offsets and readers rebuild it/);
  // Slab ids of every later file shift: both streams (each has slabs past the first file) are hit.
  t.true(cut.streams.every((s) => !s.intact));
  // And readers agree: verifying either stream against its own hashes fails.
  for (const s of cut.streams) t.not((await diskarc('verify', '-a', arc, '-s', s.id)).code, 0, s.id);

  await rm(index);
  const rebuilt = await checkArchive(arc);
  t.deepEqual(rebuilt.problems.map((p) => [p.kind, p.file, p.affects.length]), [['missing-file', 'data/000000.slab.offsets', 0]]);
  t.true(rebuilt.streams.every((s) => s.intact));
  for (const s of rebuilt.streams) {
    const v = await diskarc('verify', '-a', arc, '-s', s.id);
    t.is(v.code, 0, v.stderr);
  }
});

test('complete slabs a killed pack wrote but never indexed are debris (a note), not damage', async (t) => {
  const arc = await archiveWithOneStream(t);
  // What a pack killed between appending a slab and appending its offsets entry leaves: the
  // newest data and hashes files each gain one whole, valid slab record that no index lists.
  for (const sub of ['data', 'hashes']) {
    const path = join(arc, sub, '000000.slab');
    const offsets = await readFile(`${path}.offsets`);
    const last = Number(offsets.readBigUInt64LE(offsets.length - 8));
    await appendFile(path, (await readFile(path)).subarray(last));
  }
  const r = await checkArchive(arc);
  t.true(r.clean, JSON.stringify(r.problems));
  t.true(r.notes.some((n) => /1 complete slabs after the newest file's offsets index/.test(n.message)), JSON.stringify(r.notes));
  t.is(r.slabs.unreferenced, 1);
});
