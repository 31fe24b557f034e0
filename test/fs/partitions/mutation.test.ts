// Mutation tests: thousands of damaged copies of the fixture disks (random bytes flipped in the
// first and last 64 KiB, where the MBR and both GPT copies live, and in every EBR of the extended
// partition; truncated at random; GPT CRCs
// recomputed after the damage so the parser meets wild but "valid" headers and entries).
// Each must give a partition table or DiskarcError EFS within a time bound — nothing else.
import test from 'ava';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { FileBlockSource } from '../../../src/block/file-source.js';
import { DiskarcError } from '../../../src/errors.js';
import { probeFilesystem, readPartitionTable, type PartitionTable } from '../../../fs/partitions/index.js';
import { PROBE_BYTES } from '../../../fs/partitions/filesystem.js';
import { bareFilesystems, partitionFixtures } from '../../fixtures/partitions/disks.js';
import { OverlaySource, type Patch } from '../../fixtures/partitions/overlay-source.js';

const REGION = 64 * 1024;
const RUNS_PER_DISK = 2000;
/** Sector size and runs per fixture disk. */
const disks = { mbr: [512, RUNS_PER_DISK], gpt: [512, RUNS_PER_DISK], gpt4k: [4096, RUNS_PER_DISK], mbr4k: [4096, 1000] } as const;
const TIME_BOUND_MS = 2000;

interface Mutation {
  /** Which region: 0 = the first 64 KiB, 1 = the last 64 KiB, 2+ = an EBR sector (modulo the count). */
  region: number;
  at: number;
  /** XOR mask (1..255) or, when `set`, the new byte value. */
  value: number;
  set: boolean;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  region: fc.nat(7),
  // Bias towards the first sectors and entries of each region, where the structures are.
  at: fc.oneof(
    fc.integer({ min: 0, max: 1023 }),
    fc.integer({ min: 0, max: 16 * 1024 }),
    fc.integer({ min: 0, max: REGION - 1 }),
    fc.integer({ min: REGION - 1024, max: REGION - 1 }),
  ),
  value: fc.integer({ min: 1, max: 255 }),
  set: fc.boolean(),
});

/** Recomputes the GPT header and entry-array CRCs of the header at `headerAt` (within `buf`) when they can be located. */
function fixGptCrcs(buf: Buffer, headerAt: number, ss: number, bufLba0: number): void {
  if (headerAt + 92 > buf.length || buf.toString('latin1', headerAt, headerAt + 8) !== 'EFI PART') return;
  const n = buf.readUInt32LE(headerAt + 80);
  const size = buf.readUInt32LE(headerAt + 84);
  const lba = Number(buf.readBigUInt64LE(headerAt + 72) & 0xffffffffn);
  const entriesAt = lba * ss - bufLba0 * ss;
  if (n * size > 0 && n * size < REGION && entriesAt >= 0 && entriesAt + n * size <= buf.length) {
    buf.writeUInt32LE(crc32(buf.subarray(entriesAt, entriesAt + n * size)), headerAt + 88);
  }
  const hsize = buf.readUInt32LE(headerAt + 12);
  if (hsize >= 92 && hsize <= ss && headerAt + hsize <= buf.length) {
    buf.writeUInt32LE(0, headerAt + 16);
    buf.writeUInt32LE(crc32(buf.subarray(headerAt, headerAt + hsize)), headerAt + 16);
  }
}

/** The EBR chain of an intact MBR disk, walked here independently of the code under test. */
async function ebrSectors(src: FileBlockSource, ss: number): Promise<number[]> {
  const mbr = await src.read(0, 512);
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    if (![0x05, 0x0f, 0x85].includes(mbr[e + 4]!)) continue;
    const extStart = mbr.readUInt32LE(e + 8);
    let lba = extStart;
    while (out.length < 16) {
      out.push(lba);
      const ebr = await src.read(lba * ss, 512);
      const next = ebr.readUInt32LE(446 + 16 + 8);
      if (ebr[446 + 16 + 4] === 0 || next === 0) break;
      lba = extStart + next;
    }
  }
  return out;
}

function checkTable(table: PartitionTable | null): string | undefined {
  if (table === null) return undefined;
  const seen = new Set<number>();
  for (const p of table.partitions) {
    if (!Number.isSafeInteger(p.start) || !Number.isSafeInteger(p.size) || p.start < 0 || p.size < 0)
      return `bad extent ${p.start}+${p.size}`;
    if (!Number.isSafeInteger(p.index) || p.index < 1 || seen.has(p.index)) return `bad index ${p.index}`;
    seen.add(p.index);
  }
  return undefined;
}

for (const [name, [ss, runs]] of Object.entries(disks) as Array<[keyof typeof disks, readonly [number, number]]>) {
  test(`${name}: ${runs} damaged copies each give a table or EFS within ${TIME_BOUND_MS} ms`, async (t) => {
    const fx = await partitionFixtures();
    const base = await FileBlockSource.open(fx[name]);
    const isGpt = name.startsWith('gpt');
    try {
      const head0 = await base.read(0, REGION);
      const tail0 = await base.read(base.size - REGION, REGION);
      const ebrs: Array<{ offset: number; data: Buffer }> = [];
      for (const lba of await ebrSectors(base, ss)) ebrs.push({ offset: lba * ss, data: await base.read(lba * ss, 512) });
      if (!isGpt) t.is(ebrs.length, name === 'mbr' ? 3 : 2, 'one EBR per logical partition');
      const outcomes = { table: 0, none: 0, efs: 0 };
      await fc.assert(
        fc.asyncProperty(
          fc.array(mutationArb, { minLength: 1, maxLength: 24 }),
          fc.oneof(
            { weight: 3, arbitrary: fc.constant(base.size) },
            { weight: 1, arbitrary: fc.integer({ min: 0, max: REGION }) },
            { weight: 1, arbitrary: fc.integer({ min: base.size - REGION, max: base.size }) },
            { weight: 1, arbitrary: fc.integer({ min: 0, max: base.size }) },
          ),
          fc.boolean(),
          async (mutations, size, recrc) => {
            const head = Buffer.from(head0);
            const tail = Buffer.from(tail0);
            const ebrCopies = ebrs.map((e) => ({ offset: e.offset, data: Buffer.from(e.data) }));
            for (const m of mutations) {
              const buf =
                m.region === 0 || ebrCopies.length === 0
                  ? head
                  : m.region === 1
                    ? tail
                    : ebrCopies[(m.region - 2) % ebrCopies.length]!.data;
              const at = m.at % buf.length;
              buf[at] = m.set ? m.value : buf[at]! ^ m.value;
            }
            if (recrc && isGpt) {
              fixGptCrcs(head, ss, ss, 0);
              fixGptCrcs(tail, REGION - ss, ss, (base.size - REGION) / ss);
            }
            const src = new OverlaySource(base, size, [
              { offset: 0, data: head },
              { offset: base.size - REGION, data: tail },
              ...ebrCopies,
            ]);
            let timer: NodeJS.Timeout | undefined;
            const timeout = new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no answer within ${TIME_BOUND_MS} ms`)), TIME_BOUND_MS);
            });
            try {
              const table = await Promise.race([readPartitionTable(src), timeout]);
              const problem = checkTable(table);
              if (problem) throw new Error(`implausible table: ${problem}`);
              if (table) outcomes.table++;
              else outcomes.none++;
            } catch (e) {
              if (!(e instanceof DiskarcError && e.code === 'EFS')) throw e;
              outcomes.efs++;
            } finally {
              clearTimeout(timer);
            }
          },
        ),
        { numRuns: runs },
      );
      t.log(`outcomes: ${JSON.stringify(outcomes)}`);
      // The damage must really reach the parser: some runs still read a table, some are refused.
      t.true(outcomes.table > 0 && outcomes.efs + outcomes.none > 0);
    } finally {
      await base.close();
    }
  });
}

const FS_RUNS = 300;

test(`filesystem probing: ${FS_RUNS} damaged superblocks of each format give an answer or "unknown", never an exception`, async (t) => {
  const fx = await partitionFixtures();
  const types = new Set<string>();
  for (const name of bareFilesystems) {
    const base = await FileBlockSource.open(fx.filesystems[name]);
    try {
      const head0 = await base.read(0, Math.min(base.size, PROBE_BYTES));
      // NTFS keeps its label in MFT record 3: damage that record too.
      const extra: Patch[] = [];
      if (name === 'ntfs') {
        const cluster = head0.readUInt16LE(11) * head0[13]!;
        const at = Number(head0.readBigUInt64LE(48)) * cluster + 3 * 1024;
        extra.push({ offset: at, data: await base.read(at, 1024) });
      }
      await fc.assert(
        fc.asyncProperty(fc.array(mutationArb, { minLength: 1, maxLength: 16 }), async (mutations) => {
          const head = Buffer.from(head0);
          const more = extra.map((e) => ({ offset: e.offset, data: Buffer.from(e.data) }));
          for (const m of mutations) {
            const buf = m.region % 2 === 1 && more.length ? more[0]!.data : head;
            const at = (m.region >= 2 ? m.at : m.at % 2048) % buf.length;
            buf[at] = m.set ? m.value : buf[at]! ^ m.value;
          }
          const src = new OverlaySource(base, base.size, [{ offset: 0, data: head }, ...more]);
          const info = await probeFilesystem(src);
          if (info) {
            types.add(info.type);
            if (info.label !== undefined && typeof info.label !== 'string') throw new Error('bad label');
          }
        }),
        { numRuns: FS_RUNS },
      );
    } finally {
      await base.close();
    }
  }
  t.true(types.size >= 8, `damaged copies are still mostly recognised: ${[...types].join(', ')}`);
});
