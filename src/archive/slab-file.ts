// One slab file (format.md §2–3): a file header then append-only slabs, each a checksummed
// header + payload, with a flat u64 offsets index beside it (`<file>.offsets`, derived data that
// `rebuildOffsets` can recreate by scanning). Used for data slabs, hash slabs and stream maps.
import { open, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { DiskarcError } from '../errors.js';
import { FILE_MAGIC, FILE_VERSION, fileHeader, slabHeader, SLAB_MAGIC, type FileContent } from './layout.js';

export const OFFSETS_SUFFIX = '.offsets';

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

/** Reads `length` bytes at `position` (fewer at EOF), into `scratch` when it is large enough. */
export async function readExactly(fh: FileHandle, length: number, position: number, scratch?: Buffer): Promise<Buffer> {
  const buf = scratch !== undefined && scratch.length >= length ? scratch.subarray(0, length) : Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** Scans a slab file from its header and returns the offset of every complete, valid slab. */
export async function rebuildOffsets(path: string, content: FileContent): Promise<number[]> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
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
export async function readSlabAt(fh: FileHandle, at: number, path: string, what: string, span?: number, checksum: ChecksumMode = 'verify', scratch?: Buffer): Promise<SlabRecord> {
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
  /** Native reads of this file's descriptor still running: close() waits for them. */
  private readonly nativeReads = new Set<Promise<unknown>>();

  private constructor(readonly path: string, private readonly fh: FileHandle, private readonly content: FileContent) {}

  static async open(path: string, content: FileContent): Promise<SlabFileReader> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new DiskarcError('ECORRUPT', `cannot open slab file ${path}: ${(e as Error).message}`, { path }, { cause: e });
    }
    const reader = new SlabFileReader(path, fh, content);
    try {
      checkFileHeader(await readExactly(fh, fileHeader.size, 0), path, content);
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
      const ofh = await open(this.path + OFFSETS_SUFFIX, 'r');
      try {
        raw = await readExactly(ofh, (await ofh.stat()).size & ~7, 0);
      } finally {
        await ofh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.offsets = await rebuildOffsets(this.path, this.content);
      return;
    }
    const offsets: number[] = new Array(raw.length / 8);
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
    const p = job(this.fh.fd);
    this.nativeReads.add(p);
    const untrack = () => this.nativeReads.delete(p);
    p.then(untrack, untrack);
    return p;
  }

  /** The file offset of every indexed slab (a copy). */
  allOffsets(): number[] {
    return [...this.offsets];
  }

  /** Where slab `index` starts in the file (for error messages). */
  offsetOf(index: number): number | undefined {
    return this.offsets[index];
  }

  async close(): Promise<void> {
    // A pool thread may still be reading the descriptor; closing it under that read could make
    // the read land on whatever file reuses the number.
    await Promise.allSettled([...this.nativeReads]);
    await this.fh.close();
  }
}

/** Writes every byte of `buffers` at `position`: a short write (a disk filling up) is retried, so
 * it either completes or fails with the system's error (ENOSPC…), never silently. */
async function writeAll(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let bufs = buffers.filter((b) => b.length > 0);
  let at = position;
  while (bufs.length > 0) {
    const { bytesWritten } = await fh.writev(bufs, at);
    if (bytesWritten === 0) throw new DiskarcError('EIO', `a write at offset ${at} made no progress`);
    at += bytesWritten;
    let skip = bytesWritten;
    while (bufs.length > 0 && skip >= bufs[0].length) skip -= bufs.shift()!.length;
    if (skip > 0) bufs = [bufs[0].subarray(skip), ...bufs.slice(1)];
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
export async function committedSlabs(path: string, content: FileContent): Promise<{ offsets: number[]; end: number }> {
  const reader = await SlabFileReader.open(path, content);
  try {
    const offsets = reader.allOffsets();
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
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
      await fh.close();
    }
  } finally {
    await reader.close();
  }
}

/** Cuts a slab file back to `extent`: index first, then data, each made durable (format.md §7). */
export async function cutSlabFile(path: string, extent: SlabFileExtent): Promise<void> {
  await truncate(path + OFFSETS_SUFFIX, extent.count * 8);
  await syncPath(path + OFFSETS_SUFFIX);
  await truncate(path, extent.end);
  await syncPath(path);
}

/** Writes the offsets index a reader rebuilt by scanning (it was missing), before appending to it. */
async function writeMissingIndex(path: string, offsets: number[]): Promise<void> {
  let ofh: FileHandle;
  try {
    ofh = await open(path + OFFSETS_SUFFIX, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw e;
  }
  try {
    const buf = Buffer.alloc(offsets.length * 8);
    offsets.forEach((o, i) => buf.writeBigUInt64LE(BigInt(o), i * 8));
    await writeAll(ofh, [buf], 0);
    await ofh.sync();
  } finally {
    await ofh.close();
  }
}

async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Appends slabs to one file. The offsets index is written after the data it points at is synced. */
export class SlabFileWriter {
  private pendingOffsets: number[] = [];

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly ofh: FileHandle,
    private end: number,
    private countValue: number,
  ) {}

  /**
   * Creates a new slab file (fails if it exists), or appends to an existing one after cutting it
   * to `keep` slabs (default: all its committed ones, see committedSlabs). A new file appears
   * under its name only once its header is durable, so no reader meets a headerless file.
   */
  static async open(path: string, content: FileContent, mode: 'create' | 'append', keep?: number): Promise<SlabFileWriter> {
    if (mode === 'create') {
      const tmp = `${path}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await writeAll(fh, [encodeFileHeader(content)], 0);
        await fh.sync();
        const ofh = await open(path + OFFSETS_SUFFIX, 'w');
        await ofh.sync();
        await rename(tmp, path);
        return new SlabFileWriter(path, fh, ofh, fileHeader.size, 0);
      } catch (e) {
        await fh.close();
        await rm(tmp, { force: true }).catch(() => undefined); // harmless if it stays: never listed, overwritten next time
        throw e;
      }
    }
    const { offsets, end } = await committedSlabs(path, content);
    const count = Math.min(keep ?? offsets.length, offsets.length);
    const extent = { count, end: count < offsets.length ? offsets[count] : end };
    await writeMissingIndex(path, offsets.slice(0, count));
    await cutSlabFile(path, extent);
    const fh = await open(path, 'r+');
    const ofh = await open(path + OFFSETS_SUFFIX, 'r+');
    return new SlabFileWriter(path, fh, ofh, extent.end, extent.count);
  }

  get size(): number {
    return this.end;
  }

  get count(): number {
    return this.countValue;
  }

  /** Appends a slab and returns its index in this file. */
  async append(flags: number, payload: Buffer, length: number): Promise<number> {
    const header = encodeSlabHeader(flags, payload.length, length, crc32(payload));
    const at = this.end;
    await writeAll(this.fh, [header, payload], at);
    this.end += header.length + payload.length;
    this.pendingOffsets.push(at);
    return this.countValue++;
  }

  /** Makes every appended slab durable, then its offsets (format.md §7, durability order). */
  async sync(): Promise<void> {
    await this.fh.sync();
    if (this.pendingOffsets.length === 0) return;
    const buf = Buffer.alloc(this.pendingOffsets.length * 8);
    this.pendingOffsets.forEach((o, i) => buf.writeBigUInt64LE(BigInt(o), i * 8));
    const at = (this.countValue - this.pendingOffsets.length) * 8;
    await writeAll(this.ofh, [buf], at);
    await this.ofh.sync();
    this.pendingOffsets = [];
  }

  /** Syncs (data, then offsets) and closes. */
  async close(): Promise<void> {
    try {
      await this.sync();
    } finally {
      await this.fh.close();
      await this.ofh.close();
    }
  }

  /** Closes without indexing what was appended since the last sync (it is about to be cut). */
  async discard(): Promise<void> {
    this.pendingOffsets = [];
    try {
      await this.fh.close();
    } finally {
      await this.ofh.close();
    }
  }
}
