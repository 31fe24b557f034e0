// check of one stream (format.md §5): meta.json as written, map.index and every map page
// (header, CRC, zstd, entries contiguous and covering [0, size)), every data entry naming a slab
// and chunk that exist and agree with the slab's hash list — and, with --deep, the whole
// content's SHA-256 against the recorded digest. Damage found here, or in the slabs a data entry
// names, becomes the stream's damaged byte ranges.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { zstdDecompress } from '../../../native/index.js';
import { DiskarcError } from '../../errors.js';
import { ExtentType, FileContent, fileHeader, hashRecord, mapEntry, mapIndexRecord, SLAB_FLAG_ZSTD, slabHeader } from '../layout.js';
import { decodeSlabHeader } from '../slab-file.js';
import { PAGE_ENTRIES } from '../stream-map.js';
import type { StreamFile } from '../../storage/keys.js';

const MAP_FILE: StreamFile = 'map';
const MAP_INDEX_FILE: StreamFile = 'map.index';
import { checkWrittenHeader, parseWrittenJson, type CheckContext } from './context.js';
import type { Problem } from './report.js';
import type { SlabState } from './slab-files.js';

const META_FILE = 'meta.json';
const ZEROS = Buffer.alloc(1024 * 1024);

export interface StreamCheck {
  id: string;
  name?: string;
  size?: number;
  /** Some problem reaches this stream (its ranges are in the problem log). */
  damaged: boolean;
}

interface Meta {
  name: string;
  size: number;
  digest: string;
}

function metaFields(v: Record<string, unknown>, id: string): Meta | string {
  if (v.id !== id) return `names stream ${JSON.stringify(v.id)}, not ${id}`;
  if (typeof v.name !== 'string') return 'has no name';
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) return 'has no valid size';
  if (typeof v.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(v.digest)) return 'has no valid digest';
  if (typeof v.packTime !== 'string' || !Number.isFinite(Date.parse(v.packTime))) return 'has no valid packTime';
  return { name: v.name, size: v.size, digest: v.digest };
}

export async function checkStream(ctx: CheckContext, id: string, slabs: SlabState, referenced: Set<number>): Promise<StreamCheck> {
  const dir = `streams/${id}`;
  const metaRel = `${dir}/${META_FILE}`;
  const mapRel = `${dir}/${MAP_FILE}`;
  const indexRel = `${dir}/${MAP_INDEX_FILE}`;
  /** Problems that make the whole stream unreadable (readers cannot open it). */
  const whole: Problem[] = [];
  const affected: Array<{ problem: Problem; offset: number; length: number }> = [];
  let meta: Meta | undefined;

  const metaBuf = await ctx.readWhole(metaRel);
  if (metaBuf === undefined) {
    whole.push(ctx.log.add({ file: metaRel, offset: 0, length: 0, kind: 'missing-file', message: `${metaRel} is missing: readers do not list the stream` }));
  } else {
    const parsed = parseWrittenJson(metaBuf);
    const fields = 'value' in parsed ? metaFields(parsed.value, id) : parsed.why;
    if (typeof fields === 'string') whole.push(ctx.log.add({ file: metaRel, offset: 0, length: metaBuf.length, kind: 'bad-metadata', message: `${metaRel} ${fields}` }));
    else meta = fields;
  }

  // The map index: readers binary-search it, so any damage to it is damage to the stream.
  const pages: Array<{ firstOffset: number; filePosition: number }> = [];
  const indexRaw = await ctx.readWhole(indexRel);
  if (indexRaw === undefined) whole.push(ctx.log.add({ file: indexRel, offset: 0, length: 0, kind: 'missing-file', message: `${indexRel} is missing: the stream cannot be read` }));
  else {
    try {
      checkWrittenHeader(indexRaw.subarray(0, fileHeader.size), indexRel, FileContent.StreamMapIndex);
      if ((indexRaw.length - fileHeader.size) % mapIndexRecord.size !== 0) {
        whole.push(ctx.log.add({ file: indexRel, offset: indexRaw.length - ((indexRaw.length - fileHeader.size) % mapIndexRecord.size), length: (indexRaw.length - fileHeader.size) % mapIndexRecord.size, kind: 'truncated', message: `${indexRel} ends in a torn record: the stream cannot be opened` }));
      }
      for (let at = fileHeader.size; at + mapIndexRecord.size <= indexRaw.length; at += mapIndexRecord.size) pages.push(mapIndexRecord.decode(indexRaw, at));
    } catch (e) {
      if (!(e instanceof DiskarcError)) throw e;
      whole.push(ctx.log.add({ file: indexRel, offset: 0, length: fileHeader.size, kind: 'bad-header', message: `${e.message}: the stream cannot be opened` }));
    }
  }

  const fh = await ctx.open(mapRel);
  const goodPages: Buffer[] = [];
  let cursor = 0;
  try {
    if (!fh) whole.push(ctx.log.add({ file: mapRel, offset: 0, length: 0, kind: 'missing-file', message: `${mapRel} is missing: the stream cannot be read` }));
    else {
      const mapSize = (await fh.stat()).size;
      try {
        checkWrittenHeader(await ctx.read(fh, fileHeader.size, 0), mapRel, FileContent.StreamMap);
      } catch (e) {
        if (!(e instanceof DiskarcError)) throw e;
        whole.push(ctx.log.add({ file: mapRel, offset: 0, length: fileHeader.size, kind: 'bad-header', message: `${e.message}: the stream cannot be opened` }));
      }
      let pending: Problem | undefined; // a bad page whose range ends where the next good one starts
      let mapEnd = fileHeader.size;
      for (let p = 0; p < pages.length; p++) {
        const { firstOffset, filePosition: at } = pages[p];
        const next = pages[p + 1]?.filePosition ?? mapSize;
        const bad = (kind: Problem['kind'], what: string) => {
          const start = Number.isSafeInteger(at) && at < mapSize ? at : mapSize;
          const problem = ctx.log.add({ file: mapRel, offset: start, length: Math.max(0, Math.min(next, mapSize) - start), kind, message: `${mapRel}: map page ${p} ${what}` });
          pending ??= problem;
        };
        const h = Number.isSafeInteger(at) && at >= fileHeader.size && at + slabHeader.size <= mapSize ? decodeSlabHeader(await ctx.read(fh, slabHeader.size, at)) : undefined;
        if (!h) {
          bad(at + slabHeader.size > mapSize ? 'truncated' : 'bad-record', at + slabHeader.size > mapSize ? 'is cut off by the end of the file' : 'has a damaged header (or its index record is wrong)');
          continue;
        }
        if (at + slabHeader.size + h.storedLength > mapSize) {
          bad('truncated', 'is cut off by the end of the file');
          continue;
        }
        const payload = await ctx.read(fh, h.storedLength, at + slabHeader.size);
        mapEnd = Math.max(mapEnd, at + slabHeader.size + h.storedLength);
        if (crc32(payload) !== h.payloadCrc) {
          bad('checksum', 'fails its checksum');
          continue;
        }
        let raw: Buffer;
        try {
          raw = h.flags & SLAB_FLAG_ZSTD ? await zstdDecompress(payload, h.length) : payload;
        } catch {
          bad('content', 'does not decompress');
          continue;
        }
        const entries = raw.length / mapEntry.size;
        if (raw.length !== h.length || !Number.isInteger(entries) || entries < 1 || entries > PAGE_ENTRIES) {
          bad('bad-map', 'is malformed');
          continue;
        }
        const first = mapEntry.get(raw, 0, 'offset');
        if (first !== firstOffset) {
          bad('index-mismatch', `starts at stream offset ${first}, its index record says ${firstOffset}`);
          continue;
        }
        let end = first;
        let malformed = false;
        for (let i = 0; i < entries && !malformed; i++) {
          const e = mapEntry.decode(raw, i * mapEntry.size);
          malformed = e.offset !== end || !(e.length > 0) || e.type < ExtentType.Data || e.type > ExtentType.Unmapped;
          end = e.offset + e.length;
        }
        if (malformed) {
          bad('bad-map', 'has entries that are not contiguous or of no known type');
          continue;
        }
        // A good page: damage since the last good one covers the stream up to where this one starts.
        if (first < cursor) affected.push({ problem: ctx.log.add({ file: indexRel, offset: fileHeader.size + p * mapIndexRecord.size, length: mapIndexRecord.size, kind: 'bad-map', message: `${mapRel}: map page ${p} overlaps the page before it` }), offset: first, length: cursor - first });
        if (pending) affected.push({ problem: pending, offset: cursor, length: first - cursor });
        pending = undefined;
        cursor = Math.max(cursor, end);
        goodPages.push(raw);
      }
      const size = meta?.size ?? cursor;
      if (cursor < size) {
        const problem = pending ?? ctx.log.add({ file: indexRel, offset: indexRaw?.length ?? 0, length: 0, kind: 'bad-map', message: `${dir}: stream map ends at ${cursor}, the stream has ${size} bytes (a truncated map)` });
        affected.push({ problem, offset: cursor, length: size - cursor });
      } else if (pending) affected.push({ problem: pending, offset: cursor, length: 0 });
      if (cursor > size) whole.push(ctx.log.add({ file: mapRel, offset: 0, length: mapSize, kind: 'bad-map', message: `${mapRel} covers ${cursor} bytes, the stream has ${size}` }));
      if (whole.length === 0 && pages.length > 0 && mapEnd < mapSize && !pending) {
        ctx.log.add({ file: mapRel, offset: mapEnd, length: mapSize - mapEnd, kind: 'trailing-bytes', message: `${mapRel}: ${mapSize - mapEnd} bytes after the last map page (the map is write-once)` });
      }
    }
  } finally {
    await fh?.close();
  }

  const size = meta?.size ?? cursor;
  // Data entries: slabs that exist, agree with their hash lists, and are intact.
  let badRef: Problem | undefined;
  for (const raw of goodPages) {
    for (let at = 0; at < raw.length; at += mapEntry.size) {
      const e = mapEntry.decode(raw, at);
      if (e.type !== ExtentType.Data) continue;
      referenced.add(e.slab);
      const problems = slabs.damaged.get(e.slab) ?? (slabs.unindexed.has(e.slab) ? [slabs.unindexedProblem()] : undefined);
      if (problems) {
        for (const problem of problems) affected.push({ problem, offset: e.offset, length: e.length });
        continue;
      }
      const list = slabs.hashLists.get(e.slab);
      const rec = e.chunk * hashRecord.size;
      if (e.slab >= slabs.total || !list || rec + hashRecord.size > list.length || hashRecord.get(list, rec, 'offset') !== e.slabOffset || hashRecord.get(list, rec, 'length') !== e.length) {
        badRef ??= ctx.log.add({ file: mapRel, offset: 0, length: 0, kind: 'bad-reference', message: `${mapRel}: data entries name slabs or chunks that do not exist (first at stream offset ${e.offset}: slab ${e.slab} chunk ${e.chunk})` });
        affected.push({ problem: badRef, offset: e.offset, length: e.length });
      }
    }
  }

  const damaged = whole.length > 0 || affected.length > 0;
  if (ctx.deep && !damaged && meta) {
    const got = await digestOf(goodPages, slabs);
    if (got !== meta.digest) whole.push(ctx.log.add({ file: mapRel, offset: 0, length: 0, kind: 'content', message: `${dir}: content digest ${got} does not match the recorded ${meta.digest}` }));
  }
  for (const problem of whole) ctx.log.affect(problem, id, 0, size);
  for (const a of affected) ctx.log.affect(a.problem, id, a.offset, a.length);
  return { id, name: meta?.name, size: meta || goodPages.length ? size : undefined, damaged: whole.length > 0 || affected.length > 0 };
}

/** SHA-256 of the stream's content as its map and slabs give it (holes and fills synthesised). */
async function digestOf(pages: Buffer[], slabs: SlabState): Promise<string> {
  const sum = createHash('sha256');
  const cache = new LRUCache<number, Buffer>({ maxSize: 64 * 1024 * 1024, sizeCalculation: (b) => Math.max(1, b.length) });
  const fills = new Map<number, Buffer>();
  for (const raw of pages) {
    for (let at = 0; at < raw.length; at += mapEntry.size) {
      const e = mapEntry.decode(raw, at);
      if (e.type === ExtentType.Data) {
        let slab = cache.get(e.slab);
        if (!slab) {
          slab = await slabs.readData(e.slab);
          if (!slab) return 'sha256:unreadable';
          cache.set(e.slab, slab);
        }
        sum.update(slab.subarray(e.slabOffset, e.slabOffset + e.length));
        continue;
      }
      let block = e.type === ExtentType.Fill && e.fillByte !== 0 ? fills.get(e.fillByte) : ZEROS;
      if (!block) fills.set(e.fillByte, (block = Buffer.alloc(ZEROS.length, e.fillByte)));
      for (let left = e.length; left > 0; left -= block.length) sum.update(left >= block.length ? block : block.subarray(0, left));
    }
  }
  return `sha256:${sum.digest('hex')}`;
}
