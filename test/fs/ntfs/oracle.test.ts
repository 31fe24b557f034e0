// Tests of the NTFS fixtures and their oracle, not of our reader: each image must really
// contain what the reader's tests rely on (checked here again with istat/ntfsinfo/ntfsls/
// ntfscat), so that a fixture regression cannot silently weaken those tests.
import test from 'ava';
import { createHash } from 'node:crypto';
import { ntfsFixtures, type NtfsFixtureImage, type OracleEntry } from '../../fixtures/ntfs/fixtures.js';
import { decodeReparse, parseFls, parseIstat, parseNtfsinfoData, run } from '../../fixtures/ntfs/oracle-gen.js';

let images: NtfsFixtureImage[] = [];
test.before(async (t) => {
  t.timeout(10 * 60_000, 'first build of the NTFS fixtures');
  images = (await ntfsFixtures()).images;
});

const image = (name: string): NtfsFixtureImage => {
  const i = images.find((x) => x.name === name);
  if (!i) throw new Error(`no fixture ${name}`);
  return i;
};
const entry = (img: NtfsFixtureImage, path: string): OracleEntry => {
  const e = img.oracle.entries.find((x) => x.path === path);
  if (!e) throw new Error(`${img.name}: no oracle entry ${path}`);
  return e;
};
const features = (img: NtfsFixtureImage, feature: string) => img.oracle.features.filter((f) => f.feature === feature);

test('three images with cluster sizes 512, 4096 and 65536', (t) => {
  t.deepEqual(images.map((i) => [i.name, i.oracle.clusterSize]).sort(), [
    ['c4k', 4096],
    ['c512', 512],
    ['c64k', 65536],
  ]);
  for (const i of images) {
    t.true(i.oracle.entries.length > 100, i.name);
    t.true(i.oracle.allocatedClusters > 0 && i.oracle.allocatedClusters <= i.oracle.totalClusters, i.name);
  }
});

test('every promised feature is confirmed by istat/ntfsinfo', (t) => {
  for (const i of images) {
    const bad = i.oracle.features.filter((f) => !f.ok);
    t.deepEqual(
      bad.map((f) => `${f.feature} ${f.path} ${JSON.stringify(f.evidence)}`),
      [],
      i.name,
    );
  }
});

test('the issue-5 feature list is covered (minimums the reader tests rely on)', (t) => {
  const c4k = image('c4k'),
    c512 = image('c512'),
    c64k = image('c64k');
  const big = features(c4k, 'bigdir')[0]!;
  t.true(Number(big.evidence.entries) >= 3000, 'thousands of files in one directory');
  t.true(Number(big.evidence.nonLeafIndexRecords) >= 1, 'an $I30 B-tree with at least three levels');
  for (const i of images) {
    t.true(
      features(i, 'deep').some((f) => Number(f.evidence.depth) >= 30),
      `${i.name}: deep tree`,
    );
    for (const f of [
      'unicode',
      'name255',
      'dosname',
      'hardlink',
      'symlink',
      'junction',
      'interix',
      'sparse',
      'ads',
      'deleted',
      'resident',
      'empty',
      'uninitialized',
    ]) {
      t.true(features(i, f).length > 0 && features(i, f).every((x) => x.ok), `${i.name}: ${f}`);
    }
  }
  for (const i of [c4k, c512]) t.true(features(i, 'compressed').length >= 3, `${i.name}: compressed files`);
  t.is(features(c64k, 'compressed').length, 0, 'no compression with 64 KiB clusters');
  const frag = features(c512, 'fragmented')[0]!;
  t.true(Number(frag.evidence.runs) >= 100, `fragmented file has ${frag.evidence.runs} runs`);
  t.true(features(c512, 'attrlist')[0]!.evidence.hasAttributeList === true);
  t.true(Number(features(c512, 'mftfragmented')[0]?.evidence.runs) >= 10, 'a fragmented $MFT');
  const many = features(c4k, 'manyruns')[0]!;
  t.true(Number(many.evidence.runs) >= 2999, `thousands of runs (${many.evidence.runs})`);
  t.true(
    features(c4k, 'attrlist').some((f) => f.path === many.path && f.ok),
    'the 3000-run file has an $ATTRIBUTE_LIST',
  );
  t.true(entry(c64k, 'huge/5GiB-sparse.bin').size > 2 ** 32, 'a file larger than 4 GiB');
  t.deepEqual(
    features(c4k, 'wof').map((f) => [f.path, f.ok, f.evidence.algorithm]),
    [
      ['wof/xpress4k.bin', true, 0],
      ['wof/lzx.bin', true, 1],
    ],
  );
});

test('istat confirms $ATTRIBUTE_LIST, compression and reparse points independently of the manifest', async (t) => {
  const c512 = image('c512');
  const frag = parseIstat((await run('istat', [c512.image, String(entry(c512, 'fragmented.bin').mftRecord)])).toString());
  t.true(frag.attributes.some((a) => a.type === '$ATTRIBUTE_LIST'));
  const info = parseNtfsinfoData(
    (await run('ntfsinfo', ['-f', '-v', '-i', String(entry(c512, 'fragmented.bin').mftRecord), c512.image])).toString(),
  );
  t.true(info.totalRuns >= 100);
  const c4k = image('c4k');
  const comp = parseIstat((await run('istat', [c4k.image, String(entry(c4k, 'compressed/text-300k.txt').mftRecord)])).toString());
  t.true(comp.flags.includes('Compressed'));
  t.true(comp.attributes.some((a) => a.typeId === 128 && a.flags.includes('Compressed')));
  const link = entry(c4k, 'links/junction');
  t.is(link.type, 'symlink');
  t.is(link.reparse?.tag, 0xa0000003);
  t.is(link.linkTarget, 'C:\\links\\target-dir');
  t.is(entry(c4k, 'links/relative-symlink').reparse?.flags, 1);
  for (const i of images) {
    const ix = entry(i, 'links/interix-relative');
    t.like(ix, { type: 'symlink', interix: true, linkTarget: 'original.txt', reparse: undefined }, i.name);
    const raw = await run('icat', [i.image, String(ix.mftRecord)]);
    t.is(raw.toString('latin1', 0, 8), 'IntxLNK\x01', `${i.name}: Interix magic`);
    t.is(raw.subarray(8).toString('utf16le'), 'original.txt');
  }
});

test('deleted entries are absent, hard links appear under every name, DOS names are hidden', (t) => {
  for (const i of images) {
    const paths = new Set(i.oracle.entries.map((e) => e.path));
    for (const d of features(i, 'deleted')) t.false(paths.has(d.path), `${i.name}: ${d.path}`);
    t.true(i.oracle.deletedPaths.length >= 4, i.name);
    for (const p of i.oracle.staleIndexPaths) t.true(i.oracle.deletedPaths.includes(p) && !paths.has(p), `${i.name}: ${p}`);
    const orig = entry(i, 'links/original.txt');
    const names = i.oracle.entries
      .filter((e) => e.mftRecord === orig.mftRecord)
      .map((e) => e.path)
      .sort();
    t.deepEqual(names, ['links/hardlink.txt', 'links/original.txt', 'links/sub/hardlink-in-subdir.txt']);
    t.true(names.every((p) => entry(i, p).sha256 === orig.sha256));
    t.false(paths.has('dosnames/LONGFI~1.TXT'), i.name);
    t.false(
      [...paths].some((p) => p.startsWith('$')),
      `${i.name}: system files excluded`,
    );
  }
});

test('manifest content agrees with ntfsprogs (ntfscat) on a sample of files and streams', async (t) => {
  for (const i of images) {
    // WOF files excluded: their unnamed $DATA is all sparse (ntfscat reads zeros).
    const files = i.oracle.entries.filter((e) => e.type === 'file' && e.size < 16 << 20 && e.contentOracle !== 'wof-raw-chunks');
    const sample = [...files.filter((e) => !e.path.startsWith('bigdir/') && !e.path.startsWith('fill/')), ...files.slice(0, 5)];
    for (const e of sample) {
      const data = await run('ntfscat', ['-f', '-i', String(e.mftRecord), i.image]);
      t.is(data.length, e.size, `${i.name}:${e.path}`);
      t.is(createHash('sha256').update(data).digest('hex'), e.sha256 ?? 'missing sha256', `${i.name}:${e.path}`);
      for (const s of e.streams) {
        const sd = await run('ntfscat', ['-f', '-i', String(e.mftRecord), '-a', '0x80', '-n', s.name, i.image]);
        t.is(createHash('sha256').update(sd).digest('hex'), s.sha256, `${i.name}:${e.path}:${s.name}`);
      }
    }
  }
});

test('manifest listing agrees with ntfsls for every directory', async (t) => {
  for (const i of images) {
    const dirs = ['', ...i.oracle.entries.filter((e) => e.type === 'directory' && !e.reparse).map((e) => e.path)];
    for (const d of dirs) {
      const out = (await run('ntfsls', ['-f', '-p', `/${d}`, i.image])).toString('utf8');
      const listed = out
        .split('\n')
        .filter((n) => n && n !== '.' && n !== '..' && !(d === '' && n.startsWith('$')))
        .sort();
      const prefix = d === '' ? '' : `${d}/`;
      const expected = i.oracle.entries
        .filter((e) => e.path.startsWith(prefix) && !e.path.slice(prefix.length).includes('/'))
        .map((e) => e.name)
        .sort();
      t.deepEqual(listed, expected, `${i.name}:/${d}`);
    }
  }
});

test('allocated clusters equal ntfscluster and a popcount of $Bitmap', async (t) => {
  for (const i of images) {
    const out = (await run('ntfscluster', ['-f', i.image])).toString();
    const free = Number(/clusters of free space\s*:\s*(\d+)/.exec(out)?.[1]);
    t.is(i.oracle.allocatedClusters, i.oracle.totalClusters - free, i.name);
  }
});

test('oracle parsers: fls lines, istat, reparse buffers', (t) => {
  const fls = parseFls(
    [
      'r/r 67-128-2:\tdn/hl\t2026-11-23 12:01:01 (UTC)\t2026-11-23 12:01:01 (UTC)\t2026-11-23 12:01:01 (UTC)\t2026-11-23 ' +
        '12:01:01 (UTC)\t3\t0\t48',
      '-/r * 68-128-2:\tgone\t2026-11-23 12:01:01 (UTC)\t2026-11-23 12:01:01 (UTC)\t2026-11-23 12:01:01 (UTC)\t2026-11-23 ' +
        '12:01:01 (UTC)\t1024\t0\t48',
      'r/r 69:\tbig\t2026-11-23 12:01:01 (UTC)\t2026-11-23 12:01:01 (UTC)\t2026-11-23 12:01:01 (UTC)\t2026-11-23 12:01:01 (UTC)\t0\t0\t48',
    ].join('\n'),
  );
  t.like(fls[0], { inode: 67, attrType: 128, attrId: 2, path: 'dn/hl', size: 3, deleted: false, mtime: '2026-11-23T12:01:01.000Z' });
  t.like(fls[1], { inode: 68, deleted: true, path: 'gone' });
  t.like(fls[2], { inode: 69, attrType: undefined, path: 'big' });
  t.throws(() => parseFls('garbage'));
  // A relative symlink "a\b" as Windows lays it out: substitute then print name.
  const names = Buffer.from('a\\ba\\b', 'utf16le');
  const head = Buffer.alloc(20);
  head.writeUInt32LE(0xa000000c, 0);
  head.writeUInt16LE(12 + names.length, 4);
  head.writeUInt16LE(0, 8);
  head.writeUInt16LE(6, 10);
  head.writeUInt16LE(6, 12);
  head.writeUInt16LE(6, 14);
  head.writeUInt32LE(1, 16);
  t.deepEqual(decodeReparse(Buffer.concat([head, names])), { tag: 0xa000000c, substituteName: 'a\\b', printName: 'a\\b', flags: 1 });
});
