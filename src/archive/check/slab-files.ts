// check of the slab file series (format.md §2–4): each data and hashes file's header, every slab
// header (its own CRC) found by scanning, the offsets index against that scan, hash-list payload
// CRCs (small, read even by the fast check) and, with --deep, every data payload: CRC, zstd frame,
// each chunk's SHA-256. The result is the set of slab ids a reader cannot get intact, each with the
// problem that explains it — by the numbering readers use (format.md §3), so a short index that
// shifts the ids of every later file damages all of their slabs too.
import { readdir } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { classifySystemError, DiskarcError } from '../../errors.js';
import { FileContent, fileHeader, hashRecord, slabHeader } from '../layout.js';
import { decodeSlabHeader } from '../slab-file.js';
import { DATA_PREFIX, HASHES_PREFIX, OFFSETS_SUFFIX } from '../../storage/keys.js';

// The slab file folders, as check names them in its reports (`data/000001.slab`).
const DATA_DIR = DATA_PREFIX.slice(0, -1);
const HASHES_DIR = HASHES_PREFIX.slice(0, -1);
import { checkWrittenHeader, type CheckContext } from './context.js';
import type { Problem, ProblemKind } from './report.js';
import { checkDataPayloads, PayloadReader, type DataRecords, type RecordAt } from './slab-payloads.js';

const FILE_RE = /^(\d{6})\.slab$/;
const fileName = (n: number) => `${String(n).padStart(6, '0')}.slab`;


interface FileResult {
  exists: boolean;
  /** Slabs the file holds by the best evidence: its index or its scan, whichever lists more. */
  intended: number;
  /** Slabs a reader sees: whole index entries (the scan, when the index is missing). */
  readerCount: number;
  damaged: Map<number, Problem>;
  records: Array<RecordAt | undefined>;
  /** Hashes files: each intact slab's payload (the hash list). */
  payloads: Array<Buffer | undefined>;
  /** Newest file only: intact slabs the scan finds past the index (a killed writer's, or a cut index). */
  unindexed: Set<number>;
}

export interface SlabState {
  /** Slab ids by the intended numbering. */
  total: number;
  /** Slab id → the problems that make it unreadable (or misread) for a reader. */
  damaged: Map<number, Problem[]>;
  /** Hash list of every slab whose hashes record is intact. */
  hashLists: Map<number, Buffer>;
  /** Uncompressed length and stored size of each data slab whose record is intact. */
  dataLength: Map<number, number>;
  storedBytes: Map<number, number>;
  /**
   * Intact slabs after the newest pair's index: what a pack killed between writing slabs and
   * indexing them leaves (the next pack cuts them) — debris unless a stream references them,
   * which only a damaged index explains. `unindexedProblem` is the problem a reference raises.
   */
  unindexed: Set<number>;
  unindexedProblem(): Problem;
  /** Reads data slab `id` decompressed (for --deep's digests); undefined when it is damaged. */
  readData(id: number): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

/** Groups consecutive slabs that fail the same way into one problem. */
class Runs {
  private last: { problem: Problem; kind: ProblemKind; file: string; index: number; first: number; what: string } | undefined;

  constructor(private readonly ctx: CheckContext) {}

  flag(index: number, kind: ProblemKind, file: string, offset: number, length: number, what: string): Problem {
    const l = this.last;
    if (l && l.kind === kind && l.file === file && l.index === index - 1) {
      l.index = index;
      l.problem.length = Math.max(l.problem.length, offset + length - l.problem.offset);
      l.problem.message = `${file}: slab ${l.first} ${l.what}; so do slabs up to ${index}`;
      return l.problem;
    }
    const problem = this.ctx.log.add({ file, offset, length, kind, message: `${file}: slab ${index} ${what}` });
    this.last = { problem, kind, file, index, first: index, what };
    return problem;
  }
}

async function checkSlabFile(ctx: CheckContext, rel: string, content: FileContent, readPayloads: boolean, newest: boolean): Promise<FileResult> {
  const result: FileResult = { exists: false, intended: 0, readerCount: 0, damaged: new Map(), records: [], payloads: [], unindexed: new Set() };
  const fh = await ctx.open(rel);
  if (!fh) return result;
  result.exists = true;
  try {
    const size = (await fh.stat()).size;
    let headerProblem: Problem | undefined;
    try {
      checkWrittenHeader(await ctx.read(fh, fileHeader.size, 0), rel, content);
    } catch (e) {
      if (!(e instanceof DiskarcError)) throw e;
      headerProblem = ctx.log.add({ file: rel, offset: 0, length: fileHeader.size, kind: 'bad-header', message: `${e.message}; readers refuse to open the archive while it is damaged` });
    }

    const indexRel = rel + OFFSETS_SUFFIX;
    const raw = await ctx.readWhole(indexRel);
    if (raw === undefined) {
      ctx.log.add({ file: indexRel, offset: 0, length: 0, kind: 'missing-file', message: `${indexRel} is missing (derived: readers rebuild it by scanning ${rel})` });
    } else if (raw.length % 8 !== 0) {
      ctx.log.add({ file: indexRel, offset: raw.length & ~7, length: raw.length % 8, kind: 'truncated', message: `${indexRel} ends in a torn entry (${raw.length} bytes, not a multiple of 8)` });
    }

    // The scan: what the file itself says, following stored lengths while headers are valid.
    const headers = new Map<number, RecordAt>();
    const scan: number[] = [];
    let pos = fileHeader.size;
    while (pos + slabHeader.size <= size) {
      const h = decodeSlabHeader(await ctx.read(fh, slabHeader.size, pos));
      if (!h || pos + slabHeader.size + h.storedLength > size) break;
      headers.set(pos, { at: pos, ...h });
      scan.push(pos);
      pos += slabHeader.size + h.storedLength;
    }
    const scanEnd = pos;
    const index: number[] = [];
    if (raw === undefined) index.push(...scan);
    else for (let i = 0; i + 8 <= raw.length; i += 8) index.push(Number(raw.readBigUInt64LE(i)));
    const n = Math.max(index.length, scan.length);
    result.intended = n;
    result.readerCount = index.length;

    const runs = new Runs(ctx);
    for (let i = 0; i < n; i++) {
      const at = index[i];
      const end = index[i + 1] ?? size;
      if (headerProblem) {
        result.damaged.set(i, headerProblem);
        continue;
      }
      if (at === undefined && newest && !headerProblem && i < scan.length) {
        result.unindexed.add(i);
        result.records[i] = headers.get(scan[i]);
        continue;
      }
      if (at === undefined) {
        result.damaged.set(i, runs.flag(i, 'index-mismatch', indexRel, i * 8, 8, `is not in the offsets index (found at ${scan[i]} by scanning; remove ${indexRel} and readers rebuild it)`));
        continue;
      }
      if (i < scan.length && at !== scan[i]) {
        result.damaged.set(i, runs.flag(i, 'index-mismatch', indexRel, i * 8, 8, `has a wrong offsets entry (${at}, the slab is at ${scan[i]}; remove ${indexRel} and readers rebuild it)`));
        continue;
      }
      let rec = headers.get(at);
      if (!rec && Number.isSafeInteger(at) && at >= fileHeader.size && at + slabHeader.size <= size) {
        const h = decodeSlabHeader(await ctx.read(fh, slabHeader.size, at));
        if (h) rec = { at, ...h };
      }
      const prev = result.records[i - 1];
      if (!rec) {
        const kind = at + slabHeader.size > size ? 'truncated' : 'bad-record';
        result.damaged.set(i, runs.flag(i, kind, rel, Math.min(at, size), Math.max(0, Math.min(end, size) - Math.min(at, size)), kind === 'truncated' ? 'is cut off by the end of the file' : 'has a damaged header'));
      } else if (at + slabHeader.size + rec.storedLength > size) {
        result.damaged.set(i, runs.flag(i, 'truncated', rel, at, size - at, 'is cut off by the end of the file'));
      } else if (prev && prev.at + slabHeader.size + prev.storedLength !== at) {
        result.damaged.set(i, runs.flag(i, 'index-mismatch', indexRel, i * 8, 8, `does not follow the previous slab (offsets entry ${at}; remove ${indexRel} and readers rebuild it)`));
      } else {
        result.records[i] = rec;
      }
    }
    if (!headerProblem && scan.length === n && scanEnd < size) {
      ctx.notes.push({ file: rel, message: `${size - scanEnd} bytes after the last slab (a torn append of a killed writer; the next pack cuts them)` });
    }

    if (readPayloads) {
      for (let i = 0; i < n; i++) {
        const rec = result.records[i];
        if (!rec) continue;
        const payload = await ctx.read(fh, rec.storedLength, rec.at + slabHeader.size);
        if (crc32(payload) !== rec.payloadCrc) {
          result.records[i] = undefined;
          result.damaged.set(i, runs.flag(i, 'checksum', rel, rec.at, slabHeader.size + rec.storedLength, 'fails its checksum'));
        } else result.payloads[i] = payload;
      }
    }
    return result;
  } finally {
    await fh.close();
  }
}


async function listNumbers(ctx: CheckContext, sub: string): Promise<number[]> {
  try {
    return (await readdir(ctx.path(sub))).map((n) => FILE_RE.exec(n)?.[1]).filter((n): n is string => !!n).map(Number);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw classifySystemError(e, `checking ${ctx.path(sub)}`);
  }
}

export async function checkSlabFiles(ctx: CheckContext): Promise<SlabState> {
  for (const sub of [DATA_DIR, HASHES_DIR]) {
    const names = await readdir(ctx.path(sub)).catch(() => undefined);
    for (const n of names ?? []) if (n.endsWith('.tmp')) ctx.notes.push({ file: `${sub}/${n}`, message: 'a slab file a killed pack was creating (never read; harmless)' });
    if (!names) ctx.log.add({ file: sub, offset: 0, length: 0, kind: 'missing-file', message: `the ${sub}/ directory is missing: every slab is lost` });
  }
  const numbers = [...new Set([...(await listNumbers(ctx, DATA_DIR)), ...(await listNumbers(ctx, HASHES_DIR))])].sort((a, b) => a - b);
  const state: SlabState = {
    total: 0, damaged: new Map(), hashLists: new Map(), dataLength: new Map(), storedBytes: new Map(), unindexed: new Set(),
    unindexedProblem: () => { throw new DiskarcError('EINTERNAL', 'no unindexed slabs'); },
    readData: async () => undefined, close: async () => {},
  };
  const addDamage = (id: number, p: Problem) => state.damaged.set(id, [...(state.damaged.get(id) ?? []), p]);
  const dataRecords: DataRecords = new Map();
  let first = 0;
  let readerFirst = 0;
  let shifted: Problem | undefined;
  let expected = 0;
  for (const num of numbers) {
    const dataRel = `${DATA_DIR}/${fileName(num)}`;
    const hashesRel = `${HASHES_DIR}/${fileName(num)}`;
    const newest = num === numbers[numbers.length - 1];
    const d = await checkSlabFile(ctx, dataRel, FileContent.Data, false, newest);
    const h = await checkSlabFile(ctx, hashesRel, FileContent.Hashes, true, newest);
    let missing: Problem | undefined;
    if (num !== expected) {
      ctx.log.add({ file: `${DATA_DIR}/${fileName(expected)}`, offset: 0, length: 0, kind: 'missing-file', message: `slab files ${fileName(expected)}…${fileName(num - 1)} are missing from both ${DATA_DIR}/ and ${HASHES_DIR}/: their slabs are lost` });
    }
    expected = num + 1;
    if (!d.exists) missing = ctx.log.add({ file: dataRel, offset: 0, length: 0, kind: 'missing-file', message: `${dataRel} is missing: its slabs are lost, and readers number the slabs of later files wrongly` });
    if (!h.exists) missing = ctx.log.add({ file: hashesRel, offset: 0, length: 0, kind: 'missing-file', message: `${hashesRel} is missing: its slabs' hash lists are lost, and readers refuse to open the archive` });
    const count = d.exists && h.exists ? Math.min(d.intended, h.intended) : Math.max(d.intended, h.intended);
    const readerCount = d.exists && h.exists ? Math.min(d.readerCount, h.readerCount) : 0;
    for (let i = 0; i < count; i++) {
      const id = first + i;
      const p = missing ?? d.damaged.get(i) ?? h.damaged.get(i) ?? (shifted && readerFirst !== first ? shifted : undefined);
      if (p) {
        addDamage(id, p);
        continue;
      }
      const list = h.payloads[i]!;
      const rec = d.records[i]!;
      state.hashLists.set(id, list);
      state.dataLength.set(id, rec.length);
      state.storedBytes.set(id, slabHeader.size + rec.storedLength);
      dataRecords.set(id, { rel: dataRel, rec });
      if (d.unindexed.has(i) || h.unindexed.has(i)) {
        state.unindexed.add(id);
        let problem: Problem | undefined;
        const indexRel = (d.unindexed.has(i) ? dataRel : hashesRel) + OFFSETS_SUFFIX;
        state.unindexedProblem = () => (problem ??= ctx.log.add({ file: indexRel, offset: Math.min(d.readerCount, h.readerCount) * 8, length: 0, kind: 'index-mismatch', message: `${indexRel} lacks slabs that streams reference (the index was cut): readers cannot find them; remove ${indexRel} and readers rebuild it by scanning` }));
      }
      const chunks = list.length / hashRecord.size;
      const lastEnd = chunks >= 1 && Number.isInteger(chunks) ? hashRecord.get(list, list.length - hashRecord.size, 'offset') + hashRecord.get(list, list.length - hashRecord.size, 'length') : -1;
      if (lastEnd !== rec.length) {
        addDamage(id, ctx.log.add({ file: hashesRel, offset: h.records[i]!.at, length: slabHeader.size + h.records[i]!.storedLength, kind: 'bad-record', message: `${hashesRel}: hash list of slab ${i} does not describe its data slab (${rec.length} bytes)` }));
        state.hashLists.delete(id);
      }
    }
    if (!shifted && readerCount !== count && !newest) {
      shifted = ctx.log.add({ file: d.exists && d.readerCount !== count ? dataRel + OFFSETS_SUFFIX : hashesRel + OFFSETS_SUFFIX, offset: 0, length: 0, kind: 'numbering-shifted', message: `readers count ${readerCount} slabs in file pair ${fileName(num)} instead of ${count}: every slab of the files after it is misaddressed` });
    }
    first += count;
    readerFirst += readerCount;
  }
  state.total = first;
  const payloads = new PayloadReader(ctx);
  state.close = () => payloads.close();
  try {
    if (ctx.deep) await checkDataPayloads(ctx, state, dataRecords, payloads, addDamage);
  } catch (e) {
    await payloads.close();
    throw e;
  }
  state.readData = async (id) => {
    const r = dataRecords.get(id);
    return r && !state.damaged.has(id) ? payloads.decompressed(r.rel, r.rec) : undefined;
  };
  return state;
}
