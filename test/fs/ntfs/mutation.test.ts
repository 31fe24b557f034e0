// Mutation tests: thousands of copies of the fixtures with bit flips, byte smashes, zeroed
// ranges or truncation inside their metadata (boot sector, $MFT records, INDX blocks). Reading
// each must end, within a time bound, in either a result or a DiskarcError (EFS / ENOTFOUND) —
// never another exception, a hang or a runaway allocation. fast-check prints the seed to replay.
import test from 'ava';
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { checkRange, type BlockSource, type Extent } from '../../../src/block/source.js';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { isDiskarcError } from '../../../src/errors.js';
import { NtfsVolume } from '../../../fs/ntfs/index.js';
import { AttributeType } from '../../../fs/ntfs/attribute.js';
import { ntfsFixtures, type NtfsFixtureImage } from '../../fixtures/ntfs/fixtures.js';

let images: NtfsFixtureImage[] = [];
test.before(async (t) => {
  t.timeout(10 * 60_000, 'first build of the NTFS fixtures');
  images = (await ntfsFixtures()).images;
});

/** An in-memory image with one patched region, optionally truncated. */
class PatchedSource implements BlockSource {
  constructor(
    private readonly base: Buffer,
    private readonly patchAt: number,
    private readonly patch: Buffer,
    readonly size: number,
  ) {}
  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    const out = Buffer.from(this.base.subarray(offset, offset + length));
    const s = Math.max(offset, this.patchAt);
    const e = Math.min(offset + length, this.patchAt + this.patch.length);
    if (s < e) this.patch.copy(out, s - offset, s - this.patchAt, e - this.patchAt);
    return out;
  }
  async extents(offset: number, length: number): Promise<Extent[]> {
    const end = Math.min(this.size, offset + length);
    return end > offset ? [{ offset, length: end - offset, kind: 'data' }] : [];
  }
  async close(): Promise<void> {}
}

interface Region {
  what: string;
  start: number;
  length: number;
}

/** Metadata regions of an image, located once on the pristine copy. */
async function metadataRegions(img: NtfsFixtureImage): Promise<Region[]> {
  const src = await FileBlockSource.open(img.image);
  try {
    const vol = await NtfsVolume.open(src);
    const cs = vol.clusterSize;
    const g = vol.geometry;
    const regions: Region[] = [{ what: 'boot sector', start: 0, length: 512 }];
    regions.push({
      what: '$MFT records 0..',
      start: g.mftCluster * cs,
      length: Math.min(256 * g.mftRecordSize, vol.recordCount * g.mftRecordSize),
    });
    const bigdir = img.oracle.features.find((f) => f.feature === 'bigdir')!.path;
    for (const dir of ['/', '/' + bigdir]) {
      const rec = await vol.recordOf(dir);
      regions.push({ what: `MFT record of ${dir}`, ...mftRecordRegion(vol, rec.number, g.mftCluster * cs, g.mftRecordSize) });
      const alloc = rec.attributes.find((a) => a.type === AttributeType.INDEX_ALLOCATION);
      const run = alloc?.runs.find((r) => r.lcn !== null);
      if (run) regions.push({ what: `INDX blocks of ${dir}`, start: run.lcn! * cs, length: Math.min(run.length * cs, 64 * 1024) });
    }
    const frag = img.oracle.features.find((f) => f.feature === 'attrlist');
    if (frag)
      regions.push({
        what: 'fragmented file record',
        ...mftRecordRegion(vol, Number(frag.evidence.mftRecord), g.mftCluster * cs, g.mftRecordSize),
      });
    return regions.filter((r) => r.length > 0);
  } finally {
    await src.close();
  }
}

/** Where an MFT record lies, assuming (as in the fixtures) that the first $MFT run holds it. */
function mftRecordRegion(vol: NtfsVolume, n: number, mftStart: number, size: number): { start: number; length: number } {
  return n < vol.recordCount ? { start: mftStart + n * size, length: size } : { start: 0, length: 0 };
}

/**
 * What a user does with a volume, kept cheap enough for thousands of runs: open, list the tree
 * (up to 60 entries, reading the head of every file and stream and every link), look names up
 * in the big directory's B-tree, read the feature files (compressed, sparse, attribute list),
 * count allocated clusters.
 */
async function exercise(source: BlockSource, probes: Probes): Promise<void> {
  const vol = await NtfsVolume.open(source);
  let budget = 60;
  // Directories by record (as tree walks do) so the 40-level tree costs no repeated path lookups.
  const visit = async (dirRecord: number, path: string, depth: number): Promise<void> => {
    for (const e of await vol.readdirRecord(await vol.fileRecordOf(dirRecord))) {
      if (--budget < 0 || depth > 50) return;
      const p = `${path}/${e.name}`;
      const rec = await vol.fileRecordOf(e.mftRecord);
      if (e.type === 'file') {
        const f = await vol.openStream(rec, '', p);
        await f.read(0, Math.min(f.size, 8192));
      } else if (e.type === 'symlink') await vol.readlink(p);
      for (const s of e.streams) {
        const f = await vol.openStream(rec, s, p);
        await f.read(0, Math.min(f.size, 4096));
      }
      if (e.type === 'directory' && p !== probes.bigdir) await visit(e.mftRecord, p, depth + 1);
    }
  };
  await visit((await vol.recordOf('/')).number, '', 0);
  for (const name of probes.bigdirNames) await vol.stat(`${probes.bigdir}/${name}`);
  for (const path of probes.featureFiles) {
    const file = await vol.openFile(path);
    await file.read(0, Math.min(file.size, 64 * 1024));
  }
  await vol.allocatedClusters();
}

interface Probes {
  bigdir: string;
  bigdirNames: string[];
  featureFiles: string[];
}

function probesOf(img: NtfsFixtureImage): Probes {
  const bigdir = img.oracle.features.find((f) => f.feature === 'bigdir')!.path;
  const inBig = img.oracle.entries.filter((e) => e.path.startsWith(bigdir + '/'));
  return {
    bigdir: '/' + bigdir,
    bigdirNames: Array.from({ length: 12 }, (_, i) => inBig[Math.floor((i * inBig.length) / 12)].name),
    featureFiles: img.oracle.features.filter((x) => ['attrlist', 'compressed', 'sparse'].includes(x.feature)).map((f) => '/' + f.path),
  };
}

const mutation = fc.record({
  region: fc.nat(),
  kind: fc.constantFrom('flip', 'flip', 'byte', 'zero', 'truncate'),
  at: fc.nat(),
  bits: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
  value: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01),
  span: fc.integer({ min: 1, max: 64 }),
});

const RUNS: Record<string, number> = { c4k: 600, c512: 600, c64k: 400 };
/** A hang detector, not a benchmark: generous because the test machine is shared. */
const CASE_MS = 10_000;

for (const name of ['c4k', 'c512', 'c64k']) {
  // Serial: the three are CPU-bound and would otherwise share one event loop and each other's time bound.
  test.serial(
    `${name}: ${RUNS[name]} mutated copies of the metadata read correctly or fail with EFS/ENOTFOUND, each within ${CASE_MS} ms`,
    async (t) => {
      t.timeout(5 * 60_000);
      const img = images.find((i) => i.name === name)!;
      const base = await readFile(img.image);
      const regions = await metadataRegions(img);
      t.true(regions.length >= 5, regions.map((r) => r.what).join(', '));
      const probes = probesOf(img);
      await exercise(new PatchedSource(base, 0, Buffer.alloc(0), base.length), probes); // pristine copy works
      const outcomes = { ok: 0, EFS: 0, ENOTFOUND: 0 };
      let slowest = 0;
      await fc.assert(
        fc.asyncProperty(mutation, async (m) => {
          const r = regions[m.region % regions.length];
          const patch = Buffer.from(base.subarray(r.start, r.start + r.length));
          const at = m.at % r.length;
          let size = base.length;
          if (m.kind === 'flip') for (const b of m.bits) patch[(at + (b >> 3)) % r.length] ^= 1 << (b & 7);
          else if (m.kind === 'byte') patch[at] = m.value;
          else if (m.kind === 'zero') patch.fill(0, at, Math.min(r.length, at + m.span));
          else size = r.start + at;
          const started = performance.now();
          try {
            await exercise(new PatchedSource(base, r.start, patch, size), probes);
            outcomes.ok++;
          } catch (e) {
            if (!isDiskarcError(e, 'EFS') && !isDiskarcError(e, 'ENOTFOUND')) {
              throw new Error(`${r.what} ${m.kind} at +${at}: ${(e as Error)?.stack ?? String(e)}`);
            }
            outcomes[e.code as 'EFS' | 'ENOTFOUND']++;
          }
          const ms = performance.now() - started;
          slowest = Math.max(slowest, ms);
          if (ms > CASE_MS) throw new Error(`${r.what} ${m.kind} at +${at}: took ${ms.toFixed(0)} ms`);
        }),
        { numRuns: RUNS[name] },
      );
      t.log(`${name}: ${JSON.stringify(outcomes)}, slowest case ${slowest.toFixed(0)} ms`);
      t.true(outcomes.EFS > 0, 'some mutations must be detected');
      t.true(outcomes.ok > 0, 'some mutations are harmless');
    },
  );
}
