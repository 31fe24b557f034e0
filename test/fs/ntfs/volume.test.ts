// The NTFS reader against every fixture image and its oracle (The Sleuth Kit + ntfsprogs):
// listing, sizes, mtimes, link targets and SHA-256 of every file and stream, allocated
// clusters; plus lookups, holes, bounded caches and the used-cluster runs.
import test from 'ava';
import { createHash } from 'node:crypto';
import type { BlockSource, Extent } from '../../../src/block/source.js';
import { readParts } from '../../../src/block/parts.js';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { isDiskarcError } from '../../../src/errors.js';
import { NtfsVolume, walkTree } from '../../../fs/ntfs/index.js';
import { ntfsFixtures, type NtfsFixtureImage } from '../../fixtures/ntfs/fixtures.js';
import { compareWithOracle } from './oracle-compare.js';
import { AttributeType } from '../../../fs/ntfs/attribute.js';

let images: NtfsFixtureImage[] = [];
test.before(async (t) => {
  t.timeout(10 * 60_000, 'first build of the NTFS fixtures');
  images = (await ntfsFixtures()).images;
});

/** Counts the reads that reach the image, to prove holes cost no I/O. */
class CountingSource implements BlockSource {
  reads = 0;
  bytes = 0;
  constructor(private readonly inner: BlockSource) {}
  get size() {
    return this.inner.size;
  }
  read(offset: number, length: number): Promise<Buffer> {
    this.reads++;
    this.bytes += length;
    return this.inner.read(offset, length);
  }
  extents(offset: number, length: number): Promise<Extent[]> {
    return this.inner.extents(offset, length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function openImage(img: NtfsFixtureImage, opts?: { recordCacheSize?: number }) {
  const src = new CountingSource(await FileBlockSource.open(img.image));
  return { src, volume: await NtfsVolume.open(src, opts) };
}

const byName = (name: string) => {
  const i = images.find((x) => x.name === name);
  if (!i) throw new Error(`no fixture ${name}`);
  return i;
};
const oracleEntry = (img: NtfsFixtureImage, path: string) => {
  const e = img.oracle.entries.find((x) => x.path === path);
  if (!e) throw new Error(`${img.name}: no oracle entry ${path}`);
  return e;
};

for (const name of ['c512', 'c4k', 'c64k']) {
  test(`${name}: listing, metadata and content of every file and stream equal the oracle`, async (t) => {
    const img = byName(name);
    const { src, volume } = await openImage(img);
    try {
      t.is(volume.clusterSize, img.oracle.clusterSize);
      t.is(volume.geometry.totalClusters, img.oracle.totalClusters);
      const r = await compareWithOracle(volume, img.oracle);
      t.deepEqual(r.differences, []);
      t.is(r.compared, img.oracle.entries.length);
      t.is(r.contentCompared, img.oracle.entries.filter((e) => e.sha256 !== undefined).length);
      t.is(
        r.streamsCompared,
        img.oracle.entries.reduce((n, e) => n + e.streams.length, 0),
      );
      t.true(r.contentCompared > 100);
    } finally {
      await src.close();
    }
  });
}

test('every feature file the fixtures promise was compared (compression, sparse, attribute list, fragmentation, big directories)', (t) => {
  for (const img of images) {
    for (const f of img.oracle.features) {
      // Features of metadata files ($MFT fragmentation) are exercised by reading everything else.
      if (f.feature === 'deleted' || !f.ok || f.path.startsWith('$')) continue;
      t.truthy(
        img.oracle.entries.find((e) => e.path === f.path),
        `${img.name}: ${f.feature} ${f.path} is in the oracle listing our test compares`,
      );
    }
  }
  t.true(byName('c512').oracle.features.some((f) => f.feature === 'attrlist' && f.ok));
  t.true(byName('c4k').oracle.features.filter((f) => f.feature === 'compressed' && f.ok).length >= 3);
});

test('deleted files and directories are not found', async (t) => {
  for (const img of images) {
    const { src, volume } = await openImage(img);
    for (const p of img.oracle.deletedPaths) {
      const e = await t.throwsAsync(volume.stat('/' + p));
      t.true(isDiskarcError(e, 'ENOTFOUND'), `${img.name}: ${p}`);
    }
    await src.close();
  }
});

test('lookups are case-insensitive through $UpCase and accept DOS 8.3 names; exact case wins', async (t) => {
  const img = byName('c4k');
  const { src, volume } = await openImage(img);
  for (const p of ['dosnames/Long File Name Number One.txt', 'names/日本語のファイル名.txt', 'links/original.txt']) {
    const want = oracleEntry(img, p).mftRecord;
    t.is((await volume.stat('/' + p.toUpperCase())).mftRecord, want, p);
    t.is((await volume.stat('/' + p.toLowerCase())).mftRecord, want, p);
    t.is((await volume.stat('//' + p.replace('/', '/./'))).mftRecord, want, p);
  }
  t.is((await volume.stat('/dosnames/LONGFI~1.TXT')).mftRecord, oracleEntry(img, 'dosnames/Long File Name Number One.txt').mftRecord);
  t.is((await volume.stat('/dosnames/longfi~1.txt')).name, 'Long File Name Number One.txt');
  t.true(isDiskarcError(await t.throwsAsync(volume.stat('/links/original.txt/x')), 'ENOTFOUND'));
  t.true(isDiskarcError(await t.throwsAsync(volume.openFile('/links/original.txt:nostream')), 'ENOTFOUND'));
  t.true(isDiskarcError(await t.throwsAsync(volume.openFile('/links')), 'EISDIR'));
  await src.close();
});

test('symlinks and junctions resolve with readlink; files are not links', async (t) => {
  for (const img of images) {
    const { src, volume } = await openImage(img);
    const links = img.oracle.entries.filter((e) => e.type === 'symlink');
    t.true(links.length >= 5);
    for (const l of links) t.is(await volume.readlink('/' + l.path), l.linkTarget!.replace(/\\/g, '/'));
    t.true(isDiskarcError(await t.throwsAsync(volume.readlink('/links/original.txt')), 'EUSAGE'));
    await src.close();
  }
});

test('sparse holes read as zeros without touching the image and are reported as hole extents', async (t) => {
  for (const [name, path] of [
    ['c4k', 'sparse/all-hole.bin'],
    ['c64k', 'huge/5GiB-sparse.bin'],
  ] as const) {
    const img = byName(name);
    const { src, volume } = await openImage(img);
    const f = await volume.openFile('/' + path);
    t.is(f.size, oracleEntry(img, path).size);
    const ext = await f.extents(0, f.size);
    t.true(ext.some((e) => e.kind === 'hole'));
    const hole = ext.find((e) => e.kind === 'hole')!;
    const before = src.reads;
    const buf = await f.read(hole.offset, Math.min(hole.length, 4 << 20));
    t.is(src.reads, before, 'no I/O for a hole');
    t.true(buf.every((b) => b === 0));
    await src.close();
  }
  // Data on both sides of the 4 GiB boundary of the 5 GiB file (its full hash is compared with the oracle above).
  const img = byName('c64k');
  const { src, volume } = await openImage(img);
  const f = await volume.openFile('/huge/5GiB-sparse.bin');
  const data = (await f.extents(0, f.size)).filter((e) => e.kind === 'data');
  t.true(data.some((e) => e.offset + e.length > 2 ** 32));
  for (const e of data) t.false((await f.read(e.offset, Math.min(e.length, 65536))).every((b) => b === 0));
  await src.close();
});

test('used cluster runs are ascending, disjoint, inside the volume and sum to the oracle allocated count', async (t) => {
  for (const img of images) {
    const { src, volume } = await openImage(img);
    let prevEnd = -1;
    let sum = 0;
    for await (const r of volume.usedClusterExtents()) {
      t.true(r.count > 0 && r.cluster > prevEnd && r.cluster + r.count <= img.oracle.totalClusters);
      prevEnd = r.cluster + r.count;
      sum += r.count;
    }
    t.is(sum, img.oracle.allocatedClusters);
    t.is(await volume.allocatedClusters(), img.oracle.allocatedClusters);
    await src.close();
  }
});

test('a tiny record cache still walks the biggest directory correctly (LRU-bounded, never the whole $MFT)', async (t) => {
  const img = byName('c4k');
  const { src, volume } = await openImage(img, { recordCacheSize: 16 });
  const paths: string[] = [];
  for await (const item of walkTree(volume, '/')) paths.push(item.path);
  t.deepEqual(paths.sort(), img.oracle.entries.map((e) => e.path).sort());
  // Opening reads a bounded amount: boot sector, a few MFT blocks and $UpCase — not the $MFT.
  const fresh = await openImage(img);
  t.true(fresh.src.bytes < 512 * 1024, `open read ${fresh.src.bytes} bytes`);
  await fresh.src.close();
  await src.close();
});

test('non-NTFS and truncated sources are EFS errors', async (t) => {
  const img = byName('c4k');
  const inner = await FileBlockSource.open(img.image);
  const window = (size: number, patch?: (b: Buffer, off: number) => void): BlockSource => ({
    size,
    read: async (o, l) => {
      const b = await inner.read(o, Math.min(l, inner.size - o));
      patch?.(b, o);
      return b;
    },
    extents: (o, l) => inner.extents(o, l),
    close: async () => {},
  });
  t.true(isDiskarcError(await t.throwsAsync(NtfsVolume.open(window(100))), 'EFS'));
  t.true(isDiskarcError(await t.throwsAsync(NtfsVolume.open(window(inner.size, (b, o) => o === 0 && b.write('XXXX', 3)))), 'EFS'));
  t.true(isDiskarcError(await t.throwsAsync(NtfsVolume.open(window(64 * 1024))), 'EFS'));
  await inner.close();
});

test('WOF compact files read through their chunk table; an LZX-compressed chunk is refused with EFS, never zeros', async (t) => {
  const img = byName('c4k');
  const wof = img.oracle.entries.filter((e) => e.reparse?.tag === 0x80000017);
  t.true(wof.length >= 2);
  const inner = await FileBlockSource.open(img.image);
  const volume = await NtfsVolume.open(inner);
  for (const e of wof) {
    const st = await volume.stat('/' + e.path);
    t.regex(st.compression ?? '', /^WOF /);
    t.is(st.size, e.size);
  }
  // Patch the first chunk-table entry of lzx.bin so chunk 0 claims 30000 stored bytes (< 32768: compressed).
  const rec = await volume.recordOf('/wof/lzx.bin');
  const stream = rec.attributes.find((a) => a.type === AttributeType.DATA && a.name === 'WofCompressedData')!;
  const at = stream.resident ? -1 : stream.runs[0].lcn! * volume.clusterSize;
  t.true(at > 0, 'the WofCompressedData stream is non-resident in the fixture');
  const patched: BlockSource = {
    size: inner.size,
    read: async (o, l) => {
      const b = await inner.read(o, l);
      if (o <= at && at + 4 <= o + l) b.writeUInt32LE(30000, at - o);
      return b;
    },
    extents: (o, l) => inner.extents(o, l),
    close: async () => {},
  };
  const v2 = await NtfsVolume.open(patched);
  const f = await v2.openFile('/wof/lzx.bin');
  const err = await t.throwsAsync(f.read(0, 100));
  t.true(isDiskarcError(err, 'EFS'));
  t.regex(err!.message, /LZX-compressed/);
  await inner.close();
});

test('readv (the zero-copy read FUSE and NBD use) tiles every file exactly as the oracle hashes it, in any window', async (t) => {
  // Resident, sparse, fragmented, compressed and WOF files all go through readParts here; the image
  // source has no readv of its own, so views come from the volume's read() fallback.
  const img = byName('c4k');
  const { src, volume } = await openImage(img);
  try {
    let files = 0;
    for (const e of img.oracle.entries) {
      if (e.type !== 'file' || e.sha256 === undefined || e.size > 64 << 20) continue;
      const f = await volume.openFile('/' + e.path);
      const h = createHash('sha256');
      // Odd window sizes: pieces straddle runs, holes and the valid-data boundary.
      for (let pos = 0; pos < f.size; ) {
        const n = Math.min(f.size - pos, 1 + ((pos * 7919 + 65_521) % (300 * 1024)));
        const parts = await readParts(f, pos, n);
        t.true(
          parts.every((p) => p.length > 0),
          `${e.path}: empty piece at ${pos}`,
        );
        t.is(
          parts.reduce((s, p) => s + p.length, 0),
          n,
          `${e.path}: readv(${pos}, ${n}) length`,
        );
        for (const p of parts) h.update(p);
        pos += n;
      }
      t.is(h.digest('hex'), e.sha256, e.path);
      files++;
    }
    t.true(files > 100, `${files} files compared`);
  } finally {
    await src.close();
  }
});

test('links are followed inside paths and, when asked, at the end: to the entries the oracle has at their targets', async (t) => {
  const img = byName('c4k');
  const { src, volume } = await openImage(img);
  const record = (p: string) => oracleEntry(img, p).mftRecord;
  // Relative, parent-relative, drive-absolute (C: names this volume) symlinks and an Interix link.
  for (const [link, target] of [
    ['links/relative-symlink', 'links/original.txt'],
    ['links/sub/parent-symlink', 'links/target-dir/file.txt'],
    ['links/absolute-symlink', 'links/original.txt'],
    ['links/interix-relative', 'links/original.txt'],
  ]) {
    t.is((await volume.stat('/' + link)).type, 'symlink', link);
    t.is((await volume.stat('/' + link, { follow: true })).mftRecord, record(target!), link);
    t.is(await volume.realpath('/' + link, { follow: true }), '/' + target, link);
  }
  // Through a junction (C:\links\target-dir) and a directory symlink, as components of a path.
  for (const via of ['links/junction', 'links/dir-symlink']) {
    t.is((await volume.stat(`/${via}/file.txt`)).mftRecord, record('links/target-dir/file.txt'), via);
    t.deepEqual(
      (await volume.readdir('/' + via)).map((e) => e.name),
      ['file.txt'],
    );
  }
  // The Interix link to a host path is not in the volume.
  const outside = await t.throwsAsync(volume.openFile('/links/sub/interix-absolute'));
  t.true(isDiskarcError(outside, 'ENOTFOUND'));
  t.regex(outside!.message, /-> \/var\/tmp\/absolute-target points outside the NTFS volume/);
  await src.close();
});
