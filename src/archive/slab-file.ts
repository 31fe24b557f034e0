// One slab file (format.md §2–3): a file header then append-only slabs, each a checksummed
// header + payload, with a flat u64 offsets index beside it (`<file>.offsets`, derived data that
// `rebuildOffsets` can recreate by scanning). Used for data slabs, hash slabs and stream maps.
// Files are keys of the archive's Storage: read through an ObjectReader, written by AppendHandles.
import { crc32 } from 'node:zlib';
import { DiskarcError } from '../errors.js';
import type { AppendHandle, ObjectReader, Storage } from '../storage/backend.js';
import { offsetsKey } from '../storage/keys.js';
import { FILE_MAGIC, FILE_VERSION, fileHeader, slabHeader, SLAB_MAGIC, type FileContent } from './layout.js';

export interface SlabRecord {
  flags: number;
  /** Payload as stored (compressed when flags has SLAB_FLAG_ZSTD). */
  payload: Buffer;
  /** Uncompressed length. */
  length: number;
  /** CRC-32 the header gives for the payload (already checked unless read with checksum 'defer'). */
  payloadCrc: number;
}

/**
 * 'verify': the payload's CRC-32 is checked before the record is returned. 'defer': the caller
 * checks `payloadCrc` itself (the slab cache does, off the JS thread, while decompressing).
 */
export type ChecksumMode = 'verify' | 'defer';

export function encodeFileHeader(content: FileContent): Buffer {
  return fileHeader.encode({ magicLo: Number(FILE_MAGIC & 0xffffffffn), magicHi: Number(FILE_MAGIC >> 32n), version: FILE_VERSION, content, flags: 0 });
}

export function checkFileHeader(buf: Buffer, path: string, content: FileContent): void {
  const h = fileHeader.decode(buf);
  const magic = (BigInt(h.magicHi) << 32n) | BigInt(h.magicLo);
  if (buf.length < fileHeader.size || magic !== FILE_MAGIC) throw new DiskarcError('ECORRUPT', `${path}: not a diskarc slab file (bad magic)`, { path });
  if (h.version !== FILE_VERSION) throw new DiskarcError('ECORRUPT', `${path}: slab file version ${h.version} is not supported`, { path });
  if (h.content !== content) throw new DiskarcError('ECORRUPT', `${path}: holds content type ${h.content}, expected ${content}`, { path });
}

export function encodeSlabHeader(flags: number, storedLength: number, length: number, payloadCrc: number): Buffer {
  const buf = slabHeader.encode({ magic: SLAB_MAGIC, flags, storedLength, length, payloadCrc, headerCrc: 0 });
  buf.writeUInt32LE(crc32(buf.subarray(0, 20)), 20);
  return buf;
}

/** Decodes a slab header, or returns undefined when the bytes are not a valid one. */
export function decodeSlabHeader(buf: Buffer): { flags: number; storedLength: number; length: number; payloadCrc: number } | undefined {
  if (buf.length < slabHeader.size) return undefined;
  const h = slabHeader.decode(buf);
  if (h.magic !== SLAB_MAGIC || h.headerCrc !== crc32(buf.subarray(0, 20))) return undefined;
  return h;
}

/** Reads `length` bytes at `position` (fewer at the end), into `scratch` when it is large enough. */
export async function readExactly(r: ObjectReader, length: number, position: number, scratch?: Buffer): Promise<Buffer> {
  const buf = scratch !== undefined && scratch.length >= length ? scratch.subarray(0, length) : Buffer.allocUnsafe(length);
  const done = await r.read(buf, position);
  return done === length ? buf : buf.subarray(0, done);
}

/** Opens a slab-structured key; a missing one is damage (ECORRUPT), not "no such file". */
export async function openSlabKey(storage: Storage, key: string, what = 'slab file'): Promise<ObjectReader> {
  try {
    return await storage.open(key);
  } catch (e) {
    if (e instanceof DiskarcError && e.code === 'ENOKEY') throw new DiskarcError('ECORRUPT', `cannot open ${what} ${storage.where(key)}: it is missing`, { path: storage.where(key) }, { cause: e });
    throw e;
  }
}

/** Scans a slab file from its header and returns the offset of every complete, valid slab. */
export async function rebuildOffsets(storage: Storage, key: string, content: FileContent): Promise<number[]> {
  const fh = await openSlabKey(storage, key);
  const path = storage.where(key);
  try {
    const size = await fh.size();
    checkFileHeader(await readExactly(fh, fileHeader.size, 0), path, content);
    const offsets: number[] = [];
    let pos = fileHeader.size;
    while (pos + slabHeader.size <= size) {
      const h = decodeSlabHeader(await readExactly(fh, slabHeader.size, pos));
      if (!h || pos + slabHeader.size + h.storedLength > size) break;
      offsets.push(pos);
      pos += slabHeader.size + h.storedLength;
    }
    return offsets;
  } finally {
    await fh.close();
  }
}

/** Records longer than this are read header first (a span this large means a damaged index). */
const MAX_RECORD_SPAN = 256 * 1024 * 1024;

/**
 * Reads and checks the slab whose header is at `at`; damage is ECORRUPT naming `path` and `what`.
 * `span`: the record's length when known (the next slab's offset). `scratch`: a buffer the record
 * may be read into (the payload is then a view of it, valid until the caller reuses it);
 * otherwise the record gets fresh memory.
 */
export async function readSlabAt(fh: ObjectReader, at: number, path: string, what: string, span?: number, checksum: ChecksumMode = 'verify', scratch?: Buffer): Promise<SlabRecord> {
  // With the record's span known (the next slab's offset), header and payload come in one read —
  // one trip through the I/O thread pool instead of two; the header still decides.
  if (span !== undefined && span > slabHeader.size && span <= MAX_RECORD_SPAN) {
    const raw = await readExactly(fh, span, at, scratch);
    const h = decodeSlabHeader(raw);
    if (h && raw.length === span && slabHeader.size + h.storedLength === span) return checkedRecord(h, raw.subarray(slabHeader.size), path, what, at, checksum);
  }
  const h = decodeSlabHeader(await readExactly(fh, slabHeader.size, at));
  if (!h) throw new DiskarcError('ECORRUPT', `${path}: ${what} at offset ${at} has a damaged or missing header`, { path, offset: at });
  return checkedRecord(h, await readExactly(fh, h.storedLength, at + slabHeader.size, scratch), path, what, at, checksum);
}

type SlabHeader = { flags: number; storedLength: number; length: number; payloadCrc: number };

function checkedRecord(h: SlabHeader, payload: Buffer, path: string, what: string, at: number, checksum: ChecksumMode): SlabRecord {
  if (payload.length !== h.storedLength) throw new DiskarcError('ECORRUPT', `${path}: ${what} at offset ${at} is truncated`, { path, offset: at });
  if (checksum === 'verify' && crc32(payload) !== h.payloadCrc) throw checksumError(path, what, at);
  return { flags: h.flags, payload, length: h.length, payloadCrc: h.payloadCrc };
}

/** The error for a slab whose payload does not match its CRC-32 (also raised by deferred checks). */
export function checksumError(path: string, what: string, at: number): DiskarcError {
  return new DiskarcError('ECORRUPT', `${path}: ${what} at offset ${at} fails its checksum (archive data is damaged)`, { path, offset: at });
}

/** Random access to the slabs of one file. Safe to use while a writer appends (see refresh). */
export class SlabFileReader {
  private offsets: number[] = [];
  readonly path: string;

  private constructor(private readonly storage: Storage, readonly key: string, private readonly fh: ObjectReader, private readonly content: FileContent) {
    this.path = storage.where(key);
  }

  static async open(storage: Storage, key: string, content: FileContent): Promise<SlabFileReader> {
    const fh = await openSlabKey(storage, key);
    const reader = new SlabFileReader(storage, key, fh, content);
    try {
      checkFileHeader(await readExactly(fh, fileHeader.size, 0), reader.path, content);
      await reader.refresh();
    } catch (e) {
      await fh.close();
      throw e;
    }
    return reader;
  }

  get count(): number {
    return this.offsets.length;
  }

  /**
   * Re-reads the offsets index (a scan when it is missing). Whole, not from where it ended last:
   * a writer may have cut the file back (a failed pack's slabs rolled back, format.md §7) and
   * appended other slabs since, so entries we knew may have changed.
   */
  async refresh(): Promise<void> {
    let raw: Buffer;
    try {
      raw = await this.storage.readAll(offsetsKey(this.key));
    } catch (e) {
      if (!(e instanceof DiskarcError && e.code === 'ENOKEY')) throw e;
      this.offsets = await rebuildOffsets(this.storage, this.key, this.content);
      return;
    }
    const offsets: number[] = new Array(raw.length >>> 3);
    for (let i = 0; i < offsets.length; i++) offsets[i] = Number(raw.readBigUInt64LE(i * 8));
    this.offsets = offsets;
  }

  /** Reads and checks slab `index`; any damage is ECORRUPT naming the file and slab. */
  async readSlab(index: number, checksum: ChecksumMode = 'verify', scratch?: Buffer): Promise<SlabRecord> {
    const at = this.offsets[index];
    if (at === undefined) throw new DiskarcError('ECORRUPT', `${this.path}: slab ${index} does not exist (file has ${this.offsets.length})`, { path: this.path, slab: index });
    const next = this.offsets[index + 1];
    return readSlabAt(this.fh, at, this.path, `slab ${index}`, next !== undefined ? next - at : undefined, checksum, scratch);
  }

  /** Where slab `index` starts and, when the next slab's offset gives it, its record's length. */
  extentOf(index: number): { at: number; span?: number } | undefined {
    const at = this.offsets[index];
    if (at === undefined) return undefined;
    const next = this.offsets[index + 1];
    return { at, span: next !== undefined ? next - at : undefined };
  }

  /**
   * Lends the file's descriptor to a native pool job (SlabLoader's one-job read); close() waits
   * for it. Undefined when there is no descriptor to lend: read with readSlab instead.
   */
  withDescriptor<T>(job: (fd: number) => Promise<T>): Promise<T> | undefined {
    return this.fh.withDescriptor(job);
  }

  /** The file offset of every indexed slab (a copy). */
  allOffsets(): number[] {
    return [...this.offsets];
  }

  /** The storage reader (for a scan of the file's tail). */
  get objectReader(): ObjectReader {
    return this.fh;
  }

  /** Where slab `index` starts in the file (for error messages). */
  offsetOf(index: number): number | undefined {
    return this.offsets[index];
  }

  /** Closes the key (the storage reader waits for lent descriptors' jobs first). */
  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** A slab file's committed extent: its first `count` indexed slabs, ending at byte `end`. */
export interface SlabFileExtent {
  count: number;
  end: number;
}

/**
 * The slabs of a file a writer may build on (format.md §7): the indexed ones, minus any at the
 * end of the index that are not complete and intact in the file (an index made durable before
 * its data by an older writer, or damage at the tail). Bytes after the last of them — a torn or
 * unindexed append — are not part of the file. `offsets[i]` is where slab i starts.
 */
export async function committedSlabs(storage: Storage, key: string, content: FileContent): Promise<{ offsets: number[]; end: number }> {
  const reader = await SlabFileReader.open(storage, key, content);
  try {
    const offsets = reader.allOffsets();
    const fh = reader.objectReader;
    const size = await fh.size();
    while (offsets.length > 0) {
      const at = offsets[offsets.length - 1];
      const before = offsets.length > 1 ? offsets[offsets.length - 2] : fileHeader.size - 1;
      if (at > before && at + slabHeader.size <= size) {
        const h = decodeSlabHeader(await readExactly(fh, slabHeader.size, at));
        if (h && at + slabHeader.size + h.storedLength <= size) {
          const payload = await readExactly(fh, h.storedLength, at + slabHeader.size);
          if (crc32(payload) === h.payloadCrc) return { offsets, end: at + slabHeader.size + h.storedLength };
        }
      }
      offsets.pop();
    }
    return { offsets, end: fileHeader.size };
  } finally {
    await reader.close();
  }
}

/** Cuts a slab file back to `extent`: index first, then data, each made durable (format.md §7). */
export async function cutSlabFile(storage: Storage, key: string, extent: SlabFileExtent): Promise<void> {
  await (await storage.append(offsetsKey(key), { resumeAt: extent.count * 8 })).close();
  await (await storage.append(key, { resumeAt: extent.end })).close();
}

const encodeOffsets = (offsets: readonly number[]) => {
  const buf = Buffer.alloc(offsets.length * 8);
  offsets.forEach((o, i) => buf.writeBigUInt64LE(BigInt(o), i * 8));
  return buf;
};

/** Appends slabs to one file. The offsets index is written after the data it points at is synced. */
export class SlabFileWriter {
  private pendingOffsets: number[] = [];

  private constructor(
    readonly key: string,
    private readonly data: AppendHandle,
    private readonly index: AppendHandle,
    private countValue: number,
  ) {}

  /**
   * Creates a new slab file (fails if it exists), or appends to an existing one after cutting it
   * to `keep` slabs (default: all its committed ones, see committedSlabs): its index first, then
   * its data, each durable. A new file's header is durable before its index exists; a reader
   * that lists a new file before its header is there takes it for one being created.
   */
  static async open(storage: Storage, key: string, content: FileContent, mode: 'create' | 'append', keep?: number): Promise<SlabFileWriter> {
    if (mode === 'create') {
      const data = await storage.append(key);
      let index: AppendHandle | undefined;
      try {
        await data.append([encodeFileHeader(content)]);
        await data.sync();
        index = await storage.append(offsetsKey(key));
        await index.sync();
        return new SlabFileWriter(key, data, index, 0);
      } catch (e) {
        await data.abandon();
        await index?.abandon();
        // Nothing refers to a file whose header did not land: it must not stay for readers to trip on.
        await storage.remove(key, { ifExists: true }).catch(() => undefined);
        await storage.remove(offsetsKey(key), { ifExists: true }).catch(() => undefined);
        throw e;
      }
    }
    const { offsets, end } = await committedSlabs(storage, key, content);
    const count = Math.min(keep ?? offsets.length, offsets.length);
    const extent = { count, end: count < offsets.length ? offsets[count] : end };
    let index: AppendHandle;
    try {
      index = await storage.append(offsetsKey(key), { resumeAt: count * 8 });
    } catch (e) {
      if (!(e instanceof DiskarcError && e.code === 'ENOKEY')) throw e;
      // The index was missing (the reader rebuilt it by scanning): write it before appending.
      index = await storage.append(offsetsKey(key));
      await index.append([encodeOffsets(offsets.slice(0, count))]);
      await index.sync();
    }
    let data: AppendHandle;
    try {
      data = await storage.append(key, { resumeAt: extent.end });
    } catch (e) {
      await index.abandon();
      throw e;
    }
    return new SlabFileWriter(key, data, index, extent.count);
  }

  get size(): number {
    return this.data.length;
  }

  get count(): number {
    return this.countValue;
  }

  /** Appends a slab and returns its index in this file. */
  async append(flags: number, payload: Buffer, length: number): Promise<number> {
    const header = encodeSlabHeader(flags, payload.length, length, crc32(payload));
    this.pendingOffsets.push(await this.data.append([header, payload]));
    return this.countValue++;
  }

  /** Makes every appended slab durable, then its offsets (format.md §7, durability order). */
  async sync(): Promise<void> {
    await this.data.sync();
    if (this.pendingOffsets.length === 0) return;
    await this.index.append([encodeOffsets(this.pendingOffsets)]);
    await this.index.sync();
    this.pendingOffsets = [];
  }

  /** Syncs (data, then offsets) and closes, leaving the file open to later writers. */
  async close(): Promise<void> {
    try {
      await this.sync();
    } finally {
      await this.data.close();
      await this.index.close();
    }
  }

  /** Syncs and seals data, then offsets: the file is finished and never appended to again. */
  async seal(): Promise<void> {
    await this.sync();
    await this.data.seal();
    await this.index.seal();
  }

  /** Closes without indexing what was appended since the last sync (it is about to be cut). */
  async discard(): Promise<void> {
    this.pendingOffsets = [];
    try {
      await this.data.abandon();
    } finally {
      await this.index.abandon();
    }
  }
}
