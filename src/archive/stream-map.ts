// A stream's map (format.md §5): extents from stream offset to data (slab, offset, chunk),
// fill (byte) or unmapped, as fixed 32-byte entries in zstd-compressed pages of up to 4096
// entries, plus a flat index of each page's first offset. Opening a map reads nothing; a lookup
// binary-searches the index file with positioned reads, so cost is O(pages touched). Both files
// are keys of the archive's Storage (streams/<id>/map, …/map.index), appended then sealed.
import { LRUCache } from 'lru-cache';
import { compress } from 'zstd-napi';
import { zstdDecompress } from '../../native/index.js';
import { crc32 } from 'node:zlib';
import { DiskarcError } from '../errors.js';
import { ExtentType, FileContent, fileHeader, mapEntry, mapIndexRecord, SLAB_FLAG_ZSTD } from './layout.js';
import type { AppendHandle, ObjectReader, Storage } from '../storage/backend.js';
import { streamKey } from '../storage/keys.js';
import { checkFileHeader, encodeFileHeader, encodeSlabHeader, openSlabKey, readExactly, readSlabAt } from './slab-file.js';

export const PAGE_ENTRIES = 4096;

export interface MapExtent {
  offset: number;
  length: number;
  type: ExtentType;
  fillByte: number;
  slab: number;
  slabOffset: number;
  chunk: number;
}

export class MapWriter {
  private page = Buffer.alloc(PAGE_ENTRIES * mapEntry.size);
  private inPage = 0;
  private pos = fileHeader.size;
  private indexPos = fileHeader.size;
  private last: MapExtent | undefined;
  entries = 0;
  end = 0;

  private constructor(private readonly fh: AppendHandle, private readonly ifh: AppendHandle) {}

  /** Starts the map of stream `id` (both keys must be new). */
  static async create(storage: Storage, id: string): Promise<MapWriter> {
    const fh = await storage.append(streamKey(id, 'map'));
    let ifh: AppendHandle | undefined;
    try {
      ifh = await storage.append(streamKey(id, 'map.index'));
      await fh.append([encodeFileHeader(FileContent.StreamMap)]);
      await ifh.append([encodeFileHeader(FileContent.StreamMapIndex)]);
    } catch (e) {
      await fh.abandon();
      await ifh?.abandon();
      throw e;
    }
    return new MapWriter(fh, ifh);
  }

  /** Bytes of map + index written so far. */
  get bytesWritten(): number {
    return this.pos + this.indexPos;
  }

  /** Appends an extent at the current end; adjacent holes, and fills of one byte, are merged. */
  async add(e: MapExtent): Promise<void> {
    if (e.offset !== this.end) throw new DiskarcError('EINTERNAL', `map extent at ${e.offset} does not follow ${this.end}`);
    if (e.length <= 0) return;
    this.end += e.length;
    const l = this.last;
    if (l && e.type !== ExtentType.Data && l.type === e.type && l.fillByte === e.fillByte) {
      l.length += e.length;
      mapEntry.encode(l, this.page, (this.inPage - 1) * mapEntry.size);
      return;
    }
    if (this.inPage === PAGE_ENTRIES) await this.flushPage();
    mapEntry.encode(e, this.page, this.inPage * mapEntry.size);
    this.inPage++;
    this.entries++;
    this.last = e.type === ExtentType.Data ? undefined : { ...e };
  }

  private async flushPage(): Promise<void> {
    if (this.inPage === 0) return;
    const raw = this.page.subarray(0, this.inPage * mapEntry.size);
    const payload = compress(raw);
    const header = encodeSlabHeader(SLAB_FLAG_ZSTD, payload.length, raw.length, crc32(payload));
    const rec = mapIndexRecord.encode({ firstOffset: mapEntry.get(raw, 0, 'offset'), filePosition: this.pos });
    await this.fh.append([header, payload]);
    this.pos += header.length + payload.length;
    await this.ifh.append([rec]);
    this.indexPos += rec.length;
    this.inPage = 0;
    this.last = undefined;
  }

  /** Writes the last page and seals both files (durable and immutable from here on). */
  async finish(): Promise<void> {
    await this.flushPage();
    await this.fh.seal();
    await this.ifh.seal();
  }

  /** Closes both files unsynced; the caller removes their keys. */
  async abort(): Promise<void> {
    await this.fh.abandon().catch(() => undefined);
    await this.ifh.abandon().catch(() => undefined);
  }
}

const INDEX_BLOCK = 4096;

/** A decoded, validated map page: one typed array per field, so lookups allocate nothing. */
interface Page {
  count: number;
  offset: Float64Array;
  length: Float64Array;
  type: Uint8Array;
  fillByte: Uint8Array;
  slab: Uint32Array;
  slabOffset: Uint32Array;
  chunk: Uint32Array;
}

export class MapReader {
  /** Decoded pages (~120 KiB each): 32 MiB covers the map of a stream of ~1 M extents. */
  private readonly pages = new LRUCache<number, Page>({ maxSize: 32 * 1024 * 1024, sizeCalculation: (p) => p.count * 30 + 64 });
  private readonly indexBlocks = new LRUCache<number, Buffer>({ max: 256 });
  private readonly path: string;

  private constructor(
    storage: Storage,
    id: string,
    private readonly fh: ObjectReader,
    private readonly ifh: ObjectReader,
    readonly pageCount: number,
    readonly size: number,
  ) {
    this.path = storage.where(streamKey(id, 'map'));
  }

  /** Opens stream `id`'s map; `size` is the stream size from its metadata (the map must cover exactly it). */
  static async open(storage: Storage, id: string, size: number): Promise<MapReader> {
    let fh: ObjectReader | undefined;
    let ifh: ObjectReader | undefined;
    const mapPath = storage.where(streamKey(id, 'map'));
    const indexPath = storage.where(streamKey(id, 'map.index'));
    try {
      fh = await openSlabKey(storage, streamKey(id, 'map'), 'stream map');
      ifh = await openSlabKey(storage, streamKey(id, 'map.index'), 'stream map index');
      checkFileHeader(await readExactly(fh, fileHeader.size, 0), mapPath, FileContent.StreamMap);
      checkFileHeader(await readExactly(ifh, fileHeader.size, 0), indexPath, FileContent.StreamMapIndex);
      const isize = (await ifh.size()) - fileHeader.size;
      if (isize % mapIndexRecord.size !== 0) throw new DiskarcError('ECORRUPT', `${indexPath} is truncated`, { path: indexPath });
      const pages = isize / mapIndexRecord.size;
      if (pages === 0 && size > 0) throw new DiskarcError('ECORRUPT', `${mapPath}: stream map is empty but the stream has ${size} bytes`, { path: mapPath });
      return new MapReader(storage, id, fh, ifh, pages, size);
    } catch (e) {
      await fh?.close();
      await ifh?.close();
      throw e;
    }
  }

  private async indexRecord(i: number): Promise<{ firstOffset: number; filePosition: number }> {
    const at = fileHeader.size + i * mapIndexRecord.size;
    const block = Math.floor(at / INDEX_BLOCK);
    let buf = this.indexBlocks.get(block);
    if (!buf) {
      buf = await readExactly(this.ifh, INDEX_BLOCK, block * INDEX_BLOCK);
      this.indexBlocks.set(block, buf);
    }
    return mapIndexRecord.decode(buf, at - block * INDEX_BLOCK);
  }

  private corrupt(what: string, offset?: number): DiskarcError {
    return new DiskarcError('ECORRUPT', `${this.path}: ${what}`, { path: this.path, ...(offset === undefined ? {} : { offset }) });
  }

  /** Page `p`, decoded and checked once: checksum, size, entry types, contiguity. */
  private async page(p: number): Promise<Page> {
    const cached = this.pages.get(p);
    if (cached) return cached;
    const rec = await this.indexRecord(p);
    const slab = await readSlabAt(this.fh, rec.filePosition, this.path, `map page ${p}`);
    if (slab.length === 0 || slab.length > PAGE_ENTRIES * mapEntry.size || slab.length % mapEntry.size !== 0) throw this.corrupt(`map page ${p} is malformed`);
    let raw: Buffer;
    try {
      // Decoded on libuv's pool, not the event loop a server answers requests on.
      raw = slab.flags & SLAB_FLAG_ZSTD ? await zstdDecompress(slab.payload, slab.length) : slab.payload;
    } catch (e) {
      throw new DiskarcError('ECORRUPT', `${this.path}: map page ${p} does not decompress`, { path: this.path }, { cause: e });
    }
    if (raw.length !== slab.length) throw this.corrupt(`map page ${p} is malformed`);
    const count = raw.length / mapEntry.size;
    const page: Page = {
      count,
      offset: new Float64Array(count),
      length: new Float64Array(count),
      type: new Uint8Array(count),
      fillByte: new Uint8Array(count),
      slab: new Uint32Array(count),
      slabOffset: new Uint32Array(count),
      chunk: new Uint32Array(count),
    };
    // Fields read directly (this runs for every page a read touches): offsets per mapEntry.
    const u64 = (at: number) => raw.readUInt32LE(at) + raw.readUInt32LE(at + 4) * 0x100000000;
    const f = mapEntry.fields;
    for (let i = 0; i < count; i++) {
      const at = i * mapEntry.size;
      const offset = u64(at + f.offset.offset);
      const length = u64(at + f.length.offset);
      const type = raw[at + f.type.offset];
      if (!(length > 0) || type < ExtentType.Data || type > ExtentType.Unmapped) throw this.corrupt(`map page ${p} has a bad entry at offset ${offset}`, offset);
      if (i === 0 ? offset !== rec.firstOffset : offset !== page.offset[i - 1] + page.length[i - 1]) throw this.corrupt(`gap or overlap in the stream map at ${offset}`, offset);
      if (offset + length > this.size) throw this.corrupt(`map entry at ${offset} runs past the stream's end`, offset);
      page.offset[i] = offset;
      page.length[i] = length;
      page.type[i] = type;
      page.fillByte[i] = raw[at + f.fillByte.offset];
      page.slab[i] = raw.readUInt32LE(at + f.slab.offset);
      page.slabOffset[i] = raw.readUInt32LE(at + f.slabOffset.offset);
      page.chunk[i] = raw.readUInt32LE(at + f.chunk.offset);
    }
    this.pages.set(p, page);
    return page;
  }

  /** Index of the page holding `offset` (the last page whose first offset ≤ offset). */
  private async pageFor(offset: number): Promise<number> {
    let lo = 0;
    let hi = this.pageCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((await this.indexRecord(mid)).firstOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Calls `visit` for each extent overlapping [offset, offset+length), in order; stop by returning false. */
  async forEach(offset: number, length: number, visit: (e: MapExtent) => boolean | void | Promise<boolean | void>): Promise<void> {
    const end = Math.min(offset + length, this.size);
    if (offset >= end) return;
    let p = await this.pageFor(offset);
    let page = await this.page(p);
    let lo = 0;
    let hi = page.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (page.offset[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    if (page.offset[lo] > offset || page.offset[lo] + page.length[lo] <= offset) throw this.corrupt(`no extent covers offset ${offset}`, offset);
    for (let i = lo; ; ) {
      const e: MapExtent = {
        offset: page.offset[i], length: page.length[i], type: page.type[i], fillByte: page.fillByte[i],
        slab: page.slab[i], slabOffset: page.slabOffset[i], chunk: page.chunk[i],
      };
      const r = visit(e);
      if ((r instanceof Promise ? await r : r) === false) return;
      const next = e.offset + e.length;
      if (next >= end) return;
      if (++i === page.count) {
        if (++p >= this.pageCount) throw this.corrupt(`stream map ends at ${next}, stream size is ${this.size} (truncated map)`, next);
        page = await this.page(p);
        if (page.offset[0] !== next) throw this.corrupt(`gap or overlap in the stream map at ${next}`, next);
        i = 0;
      }
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
    await this.ifh.close();
  }
}
