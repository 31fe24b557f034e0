// pack: reads a file, block device or pipe (pack-input.ts), splits its bytes into fills and
// chunks, stores new chunks in slabs, writes the stream map, optionally reads the stream back to
// check it, then commits the stream (format.md §7 gives the fsync order). Until its meta.json is
// put the stream is invisible, and a pack that does not commit removes its map and cuts the slab
// files back to where it found them: a failed or interrupted pack leaves the archive as it was.
import { createHash, randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { FileBlockSource } from '../block/file-source.js';
import type { PipeReader } from '../block/pipe-reader.js';
import { borrowParts } from '../block/parts.js';
import type { BlockSource } from '../block/source.js';
import { DiskarcError } from '../errors.js';
import { inContext } from './error-context.js';
import { toolVersion } from '../version.js';
import { DEDUP_INDEX_KEY, parseStreamKey, STREAM_FILES, streamKey, STREAMS_PREFIX } from '../storage/keys.js';
import { META_FILE, type Archive } from './archive.js';
import { ChunkWriter } from './chunk-writer.js';
import { chunkBounds } from './config.js';
import { DedupIndex, type ChunkLocation } from './dedup-index.js';
import { ExtentType } from './layout.js';
import { openPackInput, STDIN_INPUT, type PackInput } from './pack-input.js';
import { SlabStoreWriter } from './slab-store.js';
import { Splitter } from './splitter.js';
import type { StreamInfo } from './stream-info.js';
import { MapWriter } from './stream-map.js';
import { compareSources } from './compare.js';

const READ_SIZE = 8 * 1024 * 1024;
const EXTENT_WINDOW = 1024 ** 3;
const ZEROS = Buffer.alloc(READ_SIZE);

export interface PackProgress {
  /** Logical bytes of the input processed so far. */
  done: number;
  /** Input size; undefined while a pipe is being read (known at its end). */
  size: number | undefined;
  /** Bytes read from the input (mapped data only). */
  read: number;
  /** Compressed bytes appended to data slabs. */
  stored: number;
  phase: 'pack' | 'verify';
}

export interface PackOptions {
  name?: string;
  verify?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: PackProgress) => void;
}

export interface PackResult extends StreamInfo {
  /** 'file': a file or block device, verified against itself; 'pipe': read once, verified by digest. */
  input: 'file' | 'pipe';
  bytesRead: number;
  newChunks: number;
  compressionRatio: number;
  verified: boolean;
  /** Pack rate: logical MiB per second of the pack phase (`packSeconds`, without the verify). */
  mibPerSecond: number;
  /** Seconds the read-back verify took (0 when skipped). */
  verifySeconds: number;
  /** Verify rate in MiB/s (0 when skipped). */
  verifyMiBPerSecond: number;
  /** Wall-clock seconds of the whole command: pack, verify and commit. */
  seconds: number;
}

type Op =
  | { kind: 'data'; offset: number; loc: ChunkLocation }
  | { kind: 'pending'; offset: number; data: Buffer; hash: Buffer }
  | { kind: 'fill'; offset: number; length: number; byte: number };

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new DiskarcError('EINTR', 'interrupted');
}

/** Where the bytes a reader yields go: data at a logical offset, or a hole. */
interface Feed {
  data(buf: Buffer, at: number): Promise<void>;
  hole(offset: number, length: number): Promise<void>;
}

/** Feeds the mapped regions of a file or block device (holes skipped); returns its size. */
async function readFileInput(input: FileBlockSource, blockSize: number, feed: Feed, signal?: AbortSignal): Promise<number> {
  // Two buffers: the next read is in flight while the current one is split and hashed.
  let spare = Buffer.allocUnsafeSlow(READ_SIZE);
  let current = Buffer.allocUnsafeSlow(READ_SIZE);
  for (let winStart = 0; winStart < input.size; winStart += EXTENT_WINDOW) {
    const extents = await input.extents(winStart, Math.min(EXTENT_WINDOW, input.size - winStart));
    for (const ext of extents) {
      checkAbort(signal);
      if (ext.kind !== 'data') {
        await feed.hole(ext.offset, ext.length);
        continue;
      }
      const end = ext.offset + ext.length;
      // Reads end on block boundaries so fill runs are seen whole.
      const nextLen = (pos: number) => Math.min(end - pos, READ_SIZE - (pos % blockSize));
      let pos = ext.offset;
      let len = nextLen(pos);
      let pending: Promise<void> | undefined = input.readInto(current.subarray(0, len), pos);
      while (pending) {
        await pending;
        const buf = current.subarray(0, len);
        const at = pos;
        pos += len;
        [current, spare] = [spare, current];
        if (pos < end) {
          len = nextLen(pos);
          pending = input.readInto(current.subarray(0, len), pos);
          pending.catch(() => undefined); // surfaced when awaited
        } else {
          pending = undefined;
        }
        await feed.data(buf, at);
        checkAbort(signal);
      }
    }
  }
  return input.size;
}

/** Feeds a pipe's bytes as they arrive, gathered into block-aligned reads; returns their count. */
async function readPipeInput(pipe: PipeReader, feed: Feed, signal?: AbortSignal): Promise<number> {
  const buf = Buffer.allocUnsafeSlow(READ_SIZE);
  let used = 0;
  let at = 0;
  for await (const piece of pipe.chunks(signal)) {
    for (let p = 0; p < piece.length; ) {
      const n = Math.min(piece.length - p, buf.length - used);
      piece.copy(buf, used, p, p + n);
      used += n;
      p += n;
      if (used === buf.length) {
        await feed.data(buf, at);
        at += used;
        used = 0;
        checkAbort(signal);
      }
    }
  }
  if (used > 0) await feed.data(buf.subarray(0, used), at);
  return at + used;
}

/** The SHA-256 of a source's whole content, read in order and borrowed (the next read overlaps the hashing). */
async function digestOf(source: BlockSource, signal: AbortSignal | undefined, onProgress: (done: number) => void): Promise<string> {
  const hash = createHash('sha256');
  const read = (off: number) => (off < source.size ? borrowParts(source, off, Math.min(READ_SIZE, source.size - off)) : undefined);
  let next = read(0);
  try {
    for (let off = 0; off < source.size; off += READ_SIZE) {
      const current = next!;
      next = undefined;
      const lent = await current;
      try {
        next = read(off + READ_SIZE);
        next?.catch(() => undefined); // surfaced when awaited
        checkAbort(signal);
        for (const part of lent.parts) hash.update(part);
      } finally {
        lent.release();
      }
      onProgress(Math.min(source.size, off + READ_SIZE));
    }
  } finally {
    await next?.then((l) => l.release(), () => undefined);
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * What packs killed before they could clean up (SIGKILL, a crash) left under streams/: a stream
 * with map files but no meta.json (never committed), or a temporary directory of an older
 * diskarc (streams/.tmp-<id>/). With the lock held no other pack is writing one.
 */
async function removeUncommittedStreams(archive: Archive): Promise<void> {
  const byStream = new Map<string, string[]>();
  for (const { key } of await archive.storage.list(STREAMS_PREFIX)) {
    const folder = key.slice(STREAMS_PREFIX.length).split('/')[0];
    byStream.set(folder, [...(byStream.get(folder) ?? []), key]);
  }
  for (const keys of byStream.values()) {
    if (keys.some((k) => parseStreamKey(k)?.file === META_FILE)) continue;
    for (const key of keys) await archive.storage.remove(key, { ifExists: true });
  }
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** The error, with what happened to the archive appended to its message (a DiskarcError's). */
function withOutcome(e: unknown, outcome: string, details: Record<string, unknown>): unknown {
  if (!(e instanceof DiskarcError)) return e;
  return new DiskarcError(e.code, `${e.message}; ${outcome}`, { ...e.details, ...details }, { cause: e.cause ?? e });
}

export async function pack(archive: Archive, inputPath: string, opts: PackOptions = {}): Promise<PackResult> {
  if (inputPath === STDIN_INPUT && !opts.name) throw new DiskarcError('EUSAGE', 'packing standard input (-) needs a stream name: add --name NAME');
  const started = performance.now();
  let doing = `taking the write lock of archive ${archive.dir}`;
  let unlock: () => Promise<void>;
  try {
    unlock = await archive.lock();
  } catch (e) {
    throw inContext(e, doing);
  }
  const id = randomBytes(8).toString('hex');
  let input: PackInput | undefined;
  let writer: SlabStoreWriter | undefined;
  let chunks: ChunkWriter | undefined;
  let map: MapWriter | undefined;
  let savedDedup = false;
  let committed = false;
  try {
    doing = `opening archive ${archive.dir} for writing`;
    await removeUncommittedStreams(archive);
    input = await openPackInput(inputPath);
    const source = input;
    // The writer first: it cuts a torn tail (format.md §7) the dedup catch-up would trip over.
    writer = await SlabStoreWriter.open(archive.store, archive.config.slabFileLimit);
    const dedup = new DedupIndex(archive.store);
    await dedup.load(archive.storage);
    await dedup.catchUp();
    doing = `writing to archive ${archive.dir}`;
    const { max } = chunkBounds(archive.config.blockSize);
    const cw = new ChunkWriter(writer, archive.pool, dedup, archive.config.slabSize, max, archive.config.compression);
    chunks = cw;
    const mw = await MapWriter.create(archive.storage, id);
    map = mw;
    const digest = createHash('sha256');
    const stats = { read: 0, fill: 0, dup: 0 };
    const knownSize = source.kind === 'file' ? source.source.size : undefined;

    let ops: Op[] = [];
    const splitter = new Splitter(archive.config.blockSize, {
      chunk(data, hash, offset) {
        const found = dedup.lookupCached(hash);
        if (found) {
          stats.dup += data.length;
          ops.push({ kind: 'data', offset, loc: found });
        } else if (found === null) {
          ops.push({ kind: 'data', offset, loc: cw.add(data, hash) });
        } else {
          ops.push({ kind: 'pending', offset, data: Buffer.from(data), hash: Buffer.from(hash) });
        }
      },
      fill(byte, offset, length) {
        stats.fill += length;
        ops.push({ kind: 'fill', offset, length, byte });
      },
    });
    const flushOps = async () => {
      const list = ops;
      ops = [];
      for (const op of list) {
        if (op.kind === 'fill') {
          await mw.add({ offset: op.offset, length: op.length, type: ExtentType.Fill, fillByte: op.byte, slab: 0, slabOffset: 0, chunk: 0 });
          continue;
        }
        let loc: ChunkLocation;
        let length: number;
        if (op.kind === 'pending') {
          const found = await dedup.lookup(op.hash);
          if (found) stats.dup += op.data.length;
          loc = found ?? cw.add(op.data, op.hash);
          length = op.data.length;
        } else {
          loc = op.loc;
          length = loc.length;
        }
        await mw.add({ offset: op.offset, length, type: ExtentType.Data, fillByte: 0, slab: loc.slab, slabOffset: loc.offset, chunk: loc.chunk });
      }
    };

    let lastProgress = 0;
    const progress = (done: number, force = false) => {
      const now = performance.now();
      if (opts.onProgress && (force || now - lastProgress > 200)) {
        lastProgress = now;
        opts.onProgress({ done, size: knownSize, read: stats.read, stored: cw.stats.dataWritten, phase: 'pack' });
      }
    };
    const feed: Feed = {
      async data(buf, at) {
        digest.update(buf);
        stats.read += buf.length;
        splitter.push(buf, at);
        await flushOps();
        await cw.drain();
        progress(at + buf.length);
      },
      async hole(offset, length) {
        splitter.endRun();
        await flushOps();
        await mw.add({ offset, length, type: ExtentType.Unmapped, fillByte: 0, slab: 0, slabOffset: 0, chunk: 0 });
        for (let left = length; left > 0; left -= Math.min(left, ZEROS.length)) digest.update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
        progress(offset + length);
      },
    };

    const size = source.kind === 'file'
      ? await readFileInput(source.source, archive.config.blockSize, feed, opts.signal)
      : await readPipeInput(source.pipe, feed, opts.signal);
    checkAbort(opts.signal);
    splitter.endRun();
    await flushOps();
    await cw.finish();
    await writer.finish();
    await mw.finish();
    progress(size, true);

    const packSeconds = (performance.now() - started) / 1000;
    const info: StreamInfo = {
      id,
      name: opts.name ?? basename(inputPath),
      sourcePath: source.sourcePath,
      size,
      mappedSize: stats.read,
      fillBytes: stats.fill,
      duplicateBytes: stats.dup,
      dataWritten: cw.stats.dataWritten,
      hashesWritten: cw.stats.hashesWritten,
      mapWritten: mw.bytesWritten,
      extentCount: mw.entries,
      packTime: new Date().toISOString(),
      packSeconds: Math.round(packSeconds * 1000) / 1000,
      toolVersion,
      digest: `sha256:${digest.digest('hex')}`,
    };
    let verified = false;
    const verifyStarted = performance.now();
    if (opts.verify !== false) {
      doing = `reading the new stream back from archive ${archive.dir}`;
      const onProgress = (done: number) => opts.onProgress?.({ done, size, read: stats.read, stored: cw.stats.dataWritten, phase: 'verify' });
      const reader = await archive.openUncommitted(info);
      try {
        if (source.kind === 'file') {
          await compareSources(reader, source.source, {
            signal: opts.signal,
            onProgress,
            describe: (offset) => `pack verify failed: stream ${id} differs from ${inputPath} at offset ${offset} (input changed while packing?)`,
          });
        } else {
          // A pipe cannot be read twice: the stored stream must hash to what was read from it.
          const stored = await digestOf(reader, opts.signal, onProgress);
          if (stored !== info.digest) throw new DiskarcError('EMISMATCH', `pack verify failed: stream ${id} read back hashes to ${stored}, the bytes read from ${source.sourcePath} to ${info.digest}`, { stream: id });
        }
        verified = true;
      } finally {
        await reader.close();
      }
    }
    const verifySeconds = verified ? (performance.now() - verifyStarted) / 1000 : 0;
    checkAbort(opts.signal);
    doing = `committing the stream to archive ${archive.dir}`;
    await dedup.save(archive.storage);
    savedDedup = true;
    // The commit point: a write-once, atomic, durable put. Until it lands the stream is not listed.
    await archive.storage.put(streamKey(id, META_FILE), Buffer.from(JSON.stringify(info, null, 2) + '\n'));
    committed = true;
    const newBytes = cw.stats.newBytes;
    return {
      ...info,
      input: source.kind,
      bytesRead: stats.read,
      newChunks: cw.stats.newChunks,
      compressionRatio: cw.stats.dataWritten > 0 ? newBytes / cw.stats.dataWritten : 1,
      verified,
      mibPerSecond: size / 1048576 / Math.max(packSeconds, 1e-6),
      verifySeconds: Math.round(verifySeconds * 1000) / 1000,
      verifyMiBPerSecond: verified ? size / 1048576 / Math.max(verifySeconds, 1e-6) : 0,
      seconds: Math.round(((performance.now() - started) / 1000) * 1000) / 1000,
    };
  } catch (e) {
    const err = inContext(e, doing);
    if (committed || !writer) throw err; // before the writer opened, nothing was written
    // Nothing references what this pack appended: cut it (format.md §7), and say so.
    let outcome = 'nothing was committed and the archive is unchanged';
    const details: Record<string, unknown> = {};
    const failures: string[] = [];
    const step = async (what: () => Promise<unknown>) => {
      await what().catch((cleanup: Error) => void failures.push(cleanup.message));
    };
    await chunks?.abandon();
    await step(async () => map?.abort());
    await step(async () => {
      const { bytesRemoved, bytesKept } = await writer!.rollback();
      details.slabBytesRemoved = bytesRemoved;
      details.slabBytesKept = bytesKept;
      const cut = bytesRemoved > 0 ? `the ${mib(bytesRemoved)} of slabs this pack had written were cut from the slab files` : '';
      const kept = bytesKept > 0 ? `${mib(bytesKept)} it had written to slab files it filled stay, for later packs to reuse` : '';
      if (cut || kept) outcome = `nothing was committed; ${[cut, kept].filter(Boolean).join(', and ')} (earlier streams intact)`;
    });
    // The snapshot counted the slabs just cut; the next pack rebuilds it.
    if (savedDedup) await step(() => archive.storage.remove(DEDUP_INDEX_KEY, { ifExists: true }));
    for (const file of STREAM_FILES) await step(() => archive.storage.remove(streamKey(id, file), { ifExists: true }));
    if (failures.length > 0) {
      details.rollbackError = failures.join('; ');
      outcome = `nothing was committed, but cleaning up failed (${failures.join('; ')}): what this pack wrote is unreferenced; the next pack removes its uncommitted stream files and cuts any torn slab tail, and reuses intact slabs (earlier streams intact)`;
    }
    throw withOutcome(err, outcome, details);
  } finally {
    if (committed) await writer?.close();
    if (input?.kind === 'file') await input.source.close();
    else input?.pipe.close();
    await unlock();
  }
}
