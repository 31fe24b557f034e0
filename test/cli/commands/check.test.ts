// `diskarc check` from the command line: exit codes (0 clean, 8 damaged, 3 not an archive), the
// --json shape, exact damaged ranges, and for an NTFS stream the damaged file named as
// sleuthkit (ifind/ffind, the NTFS oracle) names the owner of a damaged cluster.
import test from 'ava';
import { mkdir, open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { diskarc, run, tempDir } from '../../archive/harness.js';
import { ntfsFixtures } from '../../fixtures/ntfs/fixtures.js';

interface Report {
  clean: boolean;
  problems: Array<{
    file: string;
    offset: number;
    length: number;
    kind: string;
    affects: Array<{ id: string; ranges: Array<[number, number]> }>;
  }>;
  streams: Array<{ id: string; name?: string; intact: boolean; damagedRanges: Array<[number, number]>; files?: string[] }>;
}

test('a directory that is not an archive cannot be checked: exit 3', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'empty'));
  const r = await diskarc('check', '-a', join(dir, 'empty'), '--json');
  t.is(r.code, 3, r.stderr);
  t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'ENOARCHIVE');
});

/** A GPT disk holding `volume` as partition 1 at 1 MiB (made with sgdisk, the volume copied in). */
async function gptDisk(volume: string, path: string): Promise<number> {
  const start = 1024 * 1024;
  const bytes = await readFile(volume);
  const fh = await open(path, 'w');
  await fh.truncate(start + bytes.length + start);
  await fh.write(bytes, 0, bytes.length, start);
  await fh.close();
  const r = await run('sgdisk', ['-n', `1:2048:${2048 + bytes.length / 512 - 1}`, '-t', '1:0700', path]);
  if (r.code !== 0) throw new Error(`sgdisk: ${r.stderr}`);
  return start;
}

const ntfsDamage = test.macro(async (t, layout: 'volume' | 'gpt') => {
  t.timeout(300_000);
  const image = (await ntfsFixtures()).images.find((i) => i.name === 'c4k')!.image;
  const dir = await tempDir(t);
  const arc = join(dir, 'arc');
  let input = image;
  let start = 0;
  if (layout === 'gpt') {
    input = join(dir, 'disk.img');
    start = await gptDisk(image, input);
  }
  const prefix = layout === 'gpt' ? 'p1:' : '';
  t.is((await diskarc('create', '-a', arc)).code, 0);
  t.is((await diskarc('pack', '-a', arc, input, '--name', 'ntfs')).code, 0);
  const clean = await diskarc('check', '-a', arc);
  t.is(clean.code, 0, clean.stdout);
  t.regex(clean.stdout, /ntfs\): intact/);

  const dump = (await diskarc('dump-stream', '-a', arc, '-s', 'ntfs', '--json')).stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { offset: number; length: number; type: string; slab?: number });
  const data = dump.filter((e) => e.type === 'data');
  // A data chunk whose first whole cluster belongs to a user file, per sleuthkit.
  let chosen: { slab: number; path: string } | undefined;
  for (let i = Math.floor(data.length / 2); i < data.length && !chosen; i += 7) {
    // sleuthkit reads the volume itself: clusters count from the partition's start.
    const cluster = Math.ceil((data[i].offset - start) / 4096);
    if (cluster < 0 || start + (cluster + 1) * 4096 > data[i].offset + data[i].length) continue;
    const inode = (await run('ifind', ['-f', 'ntfs', '-d', String(cluster), image])).stdout.trim();
    if (!/^\d+/.test(inode) || Number.parseInt(inode, 10) < 64) continue;
    // ffind prints '//name' at the root.
    const found = await run('ffind', ['-f', 'ntfs', image, inode.split('-')[0]]);
    const path = found.stdout.trim().split('\n')[0].replace(/^\/+/, '/');
    if (path.startsWith('/')) chosen = { slab: data[i].slab!, path: prefix + path };
  }
  t.truthy(chosen, 'found a chunk of a user file');
  const { slab, path } = chosen!;

  // Flip one byte inside that slab's payload (its position from the offsets indexes).
  let id = slab;
  let file = '';
  let at = 0;
  for (const name of (await readdir(join(arc, 'data'))).filter((n) => n.endsWith('.slab')).sort()) {
    const offsets = await readFile(join(arc, 'data', `${name}.offsets`));
    if (id < offsets.length / 8) {
      file = join(arc, 'data', name);
      at = Number(offsets.readBigUInt64LE(id * 8)) + 24 + 100;
      break;
    }
    id -= offsets.length / 8;
  }
  const fh = await open(file, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] ^= 0xff;
  await fh.write(b, 0, 1, at);
  await fh.close();

  const r = await diskarc('check', '-a', arc, '--deep', '--json');
  t.is(r.code, 8, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  t.false(report.clean);
  t.is(report.problems.length, 1);
  t.like(report.problems[0], { kind: 'checksum', file: `data/${file.split('/').pop()}` });
  const stream = report.streams[0];
  t.false(stream.intact);
  // Exactly the stream ranges whose map entries name the damaged slab.
  const expected: Array<[number, number]> = [];
  for (const e of data.filter((e) => e.slab === slab)) {
    const last = expected[expected.length - 1];
    if (last && last[0] + last[1] === e.offset) last[1] += e.length;
    else expected.push([e.offset, e.length]);
  }
  t.deepEqual(stream.damagedRanges, expected);
  t.deepEqual(report.problems[0].affects, [{ id: stream.id, name: 'ntfs', ranges: expected }]);
  t.true(stream.files?.includes(path), `${path} in ${JSON.stringify(stream.files)}`);

  const human = await diskarc('check', '-a', arc, '--deep');
  t.is(human.code, 8);
  t.regex(human.stdout, /DAMAGED at/);
  t.true(human.stdout.includes(path), human.stdout);
  // The fast check reads no data payload: the flipped byte is content only.
  const fast = await diskarc('check', '-a', arc);
  t.is(fast.code, 0, fast.stdout);
});

test(
  'a damaged data slab of an NTFS volume: exit 8, exact stream ranges, and the file sleuthkit says owns the cluster',
  ntfsDamage,
  'volume',
);
test('a damaged data slab of a GPT disk: the file is named in its NTFS partition (p1:)', ntfsDamage, 'gpt');
