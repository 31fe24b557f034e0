// A stream's map (format.md §5): extents from stream offset to data (slab, offset, chunk),
// fill (byte) or unmapped, as fixed 32-byte entries in zstd-compressed pages of up to 4096
// entries, plus a flat index of each page's first offset. Opening a map reads nothing; a lookup
// binary-searches the index file with positioned reads, so cost is O(pages touched).
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { compress, decompress } from 'zstd-napi';
import { crc32 } from 'node:zlib';
import { DiskarcError } from '../errors.js';
import { ExtentType, FileContent, fileHeader, mapEntry, mapIndexRecord, SLAB_FLAG_ZSTD } from './layout.js';
import { checkFileHeader, encodeFileHeader, encodeSlabHeader, readExactly, readSlabAt } from './slab-file.js';

export const MAP_FILE = 'map';
export const MAP_INDEX_FILE = 'map.index';
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

  private constructor(private readonly fh: FileHandle, private readonly ifh: FileHandle) {}

  static async create(dir: string): Promise<MapWriter> {
    const fh = await open(join(dir, MAP_FILE), 'wx');
    const ifh = await open(join(dir, MAP_INDEX_FILE), 'wx');
    await fh.write(encodeFileHeader(FileContent.StreamMap), 0, fileHeader.size, 0);
    await ifh.write(encodeFileHeader(FileContent.StreamMapIndex), 0, fileHeader.size, 0);
    return new MapWriter(fh, ifh);
  }

  /** Bytes of map + index written so far. */
  get bytesWritten(): number {
    return this.pos + this.indexPos;
  }

  /** Appends an extent at the current end; adjacent holes, and fills of one byte, are merged. */
  async add(e: MapExtent): Promise<void> {
    if (e.offset !== this.end) throw new Error(`map extent at ${e.offset} does not follow ${this.end}`);
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
    await this.fh.writev([header, payload], this.pos);
    this.pos += header.length + payload.length;
    await this.ifh.write(rec, 0, rec.length, this.indexPos);
    this.indexPos += rec.length;
    this.inPage = 0;
    this.last = undefined;
  }

  /** Writes the last page and makes both files durable. */
  async finish(): Promise<void> {
    await this.flushPage();
    await this.fh.sync();
    await this.ifh.sync();
    await this.fh.close();
    await this.ifh.close();
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await this.ifh.close().catch(() => undefined);
  }
}

const INDEX_BLOCK = 4096;

export class MapReader {
  private readonly pages: LRUCache<number, Buffer>;
  private readonly indexBlocks = new LRUCache<number, Buffer>({ max: 256 });
  private constructor(
    private readonly dir: string,
    private readonly fh: FileHandle,
    private readonly ifh: FileHandle,
    readonly pageCount: number,
    readonly size: number,
  ) {
    this.pages = new LRUCache<number, Buffer>({ max: 64 });
  }

  /** Opens a map; `size` is the stream size from its metadata (the map must cover exactly it). */
  static async open(dir: string, size: number): Promise<MapReader> {
    let fh: FileHandle | undefined;
    let ifh: FileHandle | undefined;
    try {
      fh = await open(join(dir, MAP_FILE), 'r');
      ifh = await open(join(dir, MAP_INDEX_FILE), 'r');
      checkFileHeader(await readExactly(fh, fileHeader.size, 0), join(dir, MAP_FILE), FileContent.StreamMap);
      checkFileHeader(await readExactly(ifh, fileHeader.size, 0), join(dir, MAP_INDEX_FILE), FileContent.StreamMapIndex);
      const isize = (await ifh.stat()).size - fileHeader.size;
      if (isize % mapIndexRecord.size !== 0) throw new DiskarcError('ECORRUPT', `${join(dir, MAP_INDEX_FILE)} is truncated`, { path: dir });
      const pages = isize / mapIndexRecord.size;
      if (pages === 0 && size > 0) throw new DiskarcError('ECORRUPT', `${dir}: stream map is empty but the stream has ${size} bytes`, { path: dir });
      return new MapReader(dir, fh, ifh, pages, size);
    } catch (e) {
      await fh?.close();
      await ifh?.close();
      if (e instanceof DiskarcError) throw e;
      throw new DiskarcError('ECORRUPT', `cannot open stream map in ${dir}: ${(e as Error).message}`, { path: dir }, { cause: e });
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

  /** Decoded raw entries of page `p` (checked: checksum, size, ordering, coverage). */
  async page(p: number): Promise<Buffer> {
    const cached = this.pages.get(p);
    if (cached) return cached;
    const where = join(this.dir, MAP_FILE);
    const rec = await this.indexRecord(p);
    const slab = await readSlabAt(this.fh, rec.filePosition, where, `map page ${p}`);
    let raw: Buffer;
    try {
      raw = slab.flags & SLAB_FLAG_ZSTD ? decompress(slab.payload) : slab.payload;
    } catch (e) {
      throw new DiskarcError('ECORRUPT', `${where}: map page ${p} does not decompress`, { path: where }, { cause: e });
    }
    if (raw.length !== slab.length || raw.length === 0 || raw.length % mapEntry.size !== 0 || mapEntry.get(raw, 0, 'offset') !== rec.firstOffset) {
      throw new DiskarcError('ECORRUPT', `${where}: map page ${p} is malformed`, { path: where });
    }
    this.pages.set(p, raw);
    return raw;
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
    let raw = await this.page(p);
    // binary search inside the page for the last entry starting at or before offset
    let lo = 0;
    let hi = raw.length / mapEntry.size - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (mapEntry.get(raw, mid * mapEntry.size, 'offset') <= offset) lo = mid;
      else hi = mid - 1;
    }
    let i = lo;
    let expected = -1;
    for (;;) {
      const e = mapEntry.decode(raw, i * mapEntry.size) as unknown as MapExtent;
      const where = join(this.dir, MAP_FILE);
      if (!(e.length > 0)) throw new DiskarcError('ECORRUPT', `${where}: empty extent at ${e.offset}`, { path: where, offset: e.offset });
      if (expected < 0) {
        if (e.offset > offset || e.offset + e.length <= offset) throw new DiskarcError('ECORRUPT', `${where}: no extent covers offset ${offset}`, { path: where, offset });
      } else if (e.offset !== expected) {
        throw new DiskarcError('ECORRUPT', `${where}: gap or overlap in the stream map at ${expected}`, { path: where, offset: expected });
      }
      if ((await visit(e)) === false) return;
      expected = e.offset + e.length;
      if (expected >= end) return;
      if (++i === raw.length / mapEntry.size) {
        if (++p >= this.pageCount) throw new DiskarcError('ECORRUPT', `${join(this.dir, MAP_FILE)}: stream map ends at ${expected}, stream size is ${this.size} (truncated map)`, { path: this.dir, offset: expected });
        raw = await this.page(p);
        i = 0;
      }
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
    await this.ifh.close();
  }
}
