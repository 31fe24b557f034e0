// unpack: restores a stream to a file or block device. A new file (--create) gets holes for
// unmapped and zero ranges; an existing destination must be exactly the stream's size. With
// minimal writes the destination is read first and only chunks that differ are written.
// Unmapped ranges are discarded on block devices / punched in files, or written as zeros.
// A restore that fails removes the file --create made; on an existing destination the error
// says up to which offset it was restored.
import { open, rm, type FileHandle } from 'node:fs/promises';
import { native } from '../../native/index.js';
import { classifySystemError, DiskarcError } from '../errors.js';
import type { Archive } from './archive.js';
import { ExtentType } from './layout.js';
import type { MapExtent } from './stream-map.js';
import type { StreamReader } from './stream-reader.js';

const BATCH = 8 * 1024 * 1024;
const ZEROS = Buffer.alloc(BATCH);

export interface UnpackOptions {
  create?: boolean;
  minimalWrites?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, size: number) => void;
}

export interface UnpackResult {
  stream: string;
  name: string;
  destination: string;
  size: number;
  /** Bytes written with write calls, and how many calls. */
  bytesWritten: number;
  writes: number;
  /** Bytes left as holes, discarded or punched. */
  holeBytes: number;
  /** Bytes found already equal (with minimal writes). */
  unchangedBytes: number;
  seconds: number;
  mibPerSecond: number;
}

interface Destination {
  fh: FileHandle;
  isBlockDevice: boolean;
  fresh: boolean;
}

async function openDestination(path: string, size: number, create: boolean): Promise<Destination> {
  if (create) {
    let fh: FileHandle;
    try {
      fh = await open(path, 'wx');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new DiskarcError('EDEST', code === 'EEXIST' ? `${path} already exists; --create makes a new file (omit it to restore onto an existing file or device of the right size)` : `cannot create ${path}: ${(e as Error).message}`, { destination: path }, { cause: e });
    }
    try {
      await fh.truncate(size);
    } catch (e) {
      await fh.close();
      throw withFailureNote(classifySystemError(e, `making ${path} ${size} bytes long`), await removeCreated(path));
    }
    return { fh, isBlockDevice: false, fresh: true };
  }
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DiskarcError('EDEST', code === 'ENOENT' ? `${path} does not exist; use --create to make a new file` : `cannot open ${path} for writing: ${(e as Error).message}`, { destination: path }, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() && !st.isBlockDevice()) throw new DiskarcError('EDEST', `${path} is not a regular file or block device`, { destination: path });
    const destSize = st.isBlockDevice() ? native.blockDeviceSize(fh.fd) : st.size;
    if (destSize !== size) {
      throw new DiskarcError('EDEST', `${path} is ${destSize} bytes but the stream is ${size} bytes; nothing was written (restore to a destination of exactly that size, or use --create for a new file)`, { destination: path, destinationSize: destSize, streamSize: size });
    }
    return { fh, isBlockDevice: st.isBlockDevice(), fresh: false };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

type RunKind = 'data' | 'zero' | 'hole';
const runKind = (e: MapExtent): RunKind => (e.type === ExtentType.Unmapped ? 'hole' : e.type === ExtentType.Fill && e.fillByte === 0 ? 'zero' : 'data');

export async function unpack(archive: Archive, ref: string, destination: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  const started = performance.now();
  const reader: StreamReader = await archive.openStream(ref);
  const info = reader.info;
  const dest = await openDestination(destination, info.size, opts.create === true).catch(async (e) => {
    await reader.close();
    throw e;
  });
  const r = { bytesWritten: 0, writes: 0, holeBytes: 0, unchangedBytes: 0 };
  const writing = `writing ${destination}`;
  const write = async (buf: Buffer, offset: number) => {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await dest.fh.write(buf, done, buf.length - done, offset + done).catch((e: unknown) => {
        throw classifySystemError(e, writing);
      });
      done += bytesWritten;
    }
    r.bytesWritten += buf.length;
    r.writes++;
  };
  const readDest = async (offset: number, length: number) => {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await dest.fh.read(buf, done, length - done, offset + done).catch((e: unknown) => {
        throw classifySystemError(e, `reading ${destination}`);
      });
      if (bytesRead === 0) throw new DiskarcError('EDEST', `${destination}: short read at ${offset + done}`, { destination });
      done += bytesRead;
    }
    return buf;
  };
  const zeroRange = async (offset: number, length: number) => {
    for (let at = offset; at < offset + length; at += BATCH) await write(ZEROS.subarray(0, Math.min(BATCH, offset + length - at)), at);
  };
  /** Makes [offset, offset+length) read as zeros: a hole where possible, else written zeros. */
  const clearRange = async (offset: number, length: number, kind: RunKind) => {
    if (dest.fresh) {
      r.holeBytes += length;
      return;
    }
    if (!opts.minimalWrites) return clearNow(offset, length, kind);
    // Minimal writes: compare a batch at a time (a hole may be gigabytes) and clear only what is not zero.
    for (let at = offset; at < offset + length; at += BATCH) {
      const n = Math.min(BATCH, offset + length - at);
      if ((await readDest(at, n)).equals(ZEROS.subarray(0, n))) r.unchangedBytes += n;
      else await clearNow(at, n, kind);
    }
  };
  const clearNow = async (offset: number, length: number, kind: RunKind) => {
    if (kind === 'hole') {
      try {
        if (dest.isBlockDevice) native.blockDiscard(dest.fh.fd, offset, length);
        else native.punchHole(dest.fh.fd, offset, length);
        // A discard is not guaranteed to read back as zeros on every device; check and fall back.
        if (!dest.isBlockDevice || (await readDest(offset, Math.min(length, 4096))).equals(ZEROS.subarray(0, Math.min(length, 4096)))) {
          r.holeBytes += length;
          return;
        }
      } catch {
        // discard / punch unsupported here (e.g. EOPNOTSUPP): fall through to writing zeros
      }
    }
    await zeroRange(offset, length);
  };

  // Writes and clears start in offset order but overlap (reads run ahead): the destination is
  // restored below the lowest offset of any operation not finished — what a failure reports.
  const unfinished = new Map<number, number>();
  let ops = 0;
  let issuedTo = 0;
  const tracked = <T>(offset: number, end: number, op: () => Promise<T>): Promise<T> => {
    const id = ops++;
    unfinished.set(id, offset);
    issuedTo = Math.max(issuedTo, end);
    return op().then((v) => {
      unfinished.delete(id);
      return v;
    });
  };
  const restoredTo = () => (unfinished.size > 0 ? Math.min(...unfinished.values()) : issuedTo);

  // Batches of data extents, read ahead while the previous batch is written.
  type Batch = { offset: number; length: number; extents: MapExtent[] };
  const writeBatch = async (b: Batch, data: Buffer) => {
    if (!opts.minimalWrites) return write(data, b.offset);
    const old = await readDest(b.offset, b.length);
    for (const e of b.extents) {
      const from = e.offset - b.offset;
      const to = from + e.length;
      if (old.compare(data, from, to, from, to) === 0) r.unchangedBytes += e.length;
      else await write(data.subarray(from, to), e.offset);
    }
  };
  // Up to AHEAD batches are being read (decompressed on the worker pool) while earlier ones are
  // written, in order; this keeps both cores busy instead of alternating read and write.
  const AHEAD = 4;
  let pendingWrite: Promise<void> = Promise.resolve();
  const inFlight: Array<Promise<void>> = [];
  let batch: Batch | undefined;
  const interrupted = () => new DiskarcError('EINTR', 'interrupted', { destination });
  const flushBatch = async () => {
    // A checkpoint every batch (8 MiB), so Ctrl-C stops promptly even inside a long map window.
    if (opts.signal?.aborted) throw interrupted();
    if (!batch) return;
    const b = batch;
    batch = undefined;
    if (inFlight.length >= AHEAD) await inFlight.shift();
    const data = reader.read(b.offset, b.length).catch((e: unknown) => {
      throw classifySystemError(e, `reading stream ${info.id} from ${archive.dir}`);
    });
    data.catch(() => undefined);
    const previous = pendingWrite;
    pendingWrite = tracked(b.offset, b.offset + b.length, () => previous.then(() => data).then((d) => writeBatch(b, d)));
    pendingWrite.catch(() => undefined);
    inFlight.push(pendingWrite);
  };

  try {
    let lastProgress = 0;
    for (let offset = 0; offset < info.size; ) {
      // Walk the map a window at a time so memory does not grow with the map.
      const window = Math.min(info.size - offset, 1024 * BATCH);
      let clearRun: { offset: number; length: number; kind: RunKind } | undefined;
      const clear = (o: number, length: number, kind: RunKind) => tracked(o, o + length, () => clearRange(o, length, kind));
      await reader.mapExtents(offset, window, async (e) => {
        const kind = runKind(e);
        const from = Math.max(offset, e.offset);
        const to = Math.min(offset + window, e.offset + e.length);
        if (kind === 'data') {
          if (clearRun) {
            await clear(clearRun.offset, clearRun.length, clearRun.kind);
            clearRun = undefined;
          }
          if (batch && batch.length + (to - from) > BATCH) await flushBatch();
          batch ??= { offset: from, length: 0, extents: [] };
          batch.length += to - from;
          batch.extents.push({ ...e, offset: from, length: to - from });
        } else {
          await flushBatch();
          if (clearRun && clearRun.kind === kind) clearRun.length += to - from;
          else {
            if (clearRun) await clear(clearRun.offset, clearRun.length, clearRun.kind);
            clearRun = { offset: from, length: to - from, kind };
          }
        }
      });
      await flushBatch();
      await pendingWrite;
      if (clearRun) await clear(clearRun.offset, clearRun.length, clearRun.kind);
      offset += window;
      if (opts.signal?.aborted) throw interrupted();
      const now = performance.now();
      if (now - lastProgress > 200) {
        lastProgress = now;
        opts.onProgress?.(offset, info.size);
      }
    }
    await pendingWrite;
    await dest.fh.sync().catch((e: unknown) => {
      throw classifySystemError(e, writing);
    });
  } catch (e) {
    // Let every write in flight settle before saying what the destination holds.
    await pendingWrite.catch(() => undefined);
    // The first failure is the one to report; a close failing after it adds nothing the note
    // below does not already say (the file is removed, or named as restored only so far).
    await dest.fh.close().catch(() => undefined);
    await reader.close();
    if (dest.fresh) throw withFailureNote(e, await removeCreated(destination));
    const at = restoredTo();
    throw withFailureNote(e, {
      note: at > 0
        ? `${destination} is restored up to offset ${at} (bytes 0-${at - 1}); from there on it may hold a mix of its old data and the stream's`
        : `${destination} may be partly overwritten from its start`,
      details: { destination, restoredBytes: at },
    });
  }
  await dest.fh.close();
  await reader.close();
  const seconds = (performance.now() - started) / 1000;
  return { stream: info.id, name: info.name, destination, size: info.size, ...r, seconds, mibPerSecond: info.size / 1048576 / Math.max(seconds, 1e-6) };
}

interface FailureNote {
  note: string;
  details: Record<string, unknown>;
}

/** Removes the file a failed --create made (it never existed before) and says whether that worked. */
async function removeCreated(path: string): Promise<FailureNote> {
  try {
    await rm(path, { force: true });
    return { note: `${path} was removed (--create made it and the restore did not finish)`, details: { destination: path, removed: true } };
  } catch (e) {
    return { note: `${path} is left partly written: it could not be removed (${(e as Error).message})`, details: { destination: path, removed: false } };
  }
}

/** The failure, with what became of the destination appended to its message. */
function withFailureNote(e: unknown, { note, details }: FailureNote): unknown {
  if (e instanceof DiskarcError) {
    return new DiskarcError(e.code, `${e.message}; ${note}`, { ...e.details, ...details }, { cause: e.cause ?? e });
  }
  if (e instanceof Error) e.message = `${e.message}; ${note}`;
  return e;
}
