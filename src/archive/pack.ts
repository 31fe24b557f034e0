// pack: reads the mapped regions of a file or block device, splits them into fills and chunks,
// stores new chunks in slabs, writes the stream map, optionally reads the stream back to compare,
// then commits the stream (format.md §7 gives the fsync order). Until the final rename the
// stream is invisible, so an interrupted pack leaves every earlier stream untouched.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile, open } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { FileBlockSource } from '../block/file-source.js';
import { DiskarcError } from '../errors.js';
import { toolVersion } from '../version.js';
import { fsyncDir, META_FILE, STREAMS_DIR, type Archive } from './archive.js';
import { ChunkWriter } from './chunk-writer.js';
import { chunkBounds } from './config.js';
import { DedupIndex, type ChunkLocation } from './dedup-index.js';
import { ExtentType } from './layout.js';
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
  size: number;
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
  bytesRead: number;
  newChunks: number;
  compressionRatio: number;
  verified: boolean;
  mibPerSecond: number;
}

type Op =
  | { kind: 'data'; offset: number; loc: ChunkLocation }
  | { kind: 'pending'; offset: number; data: Buffer; hash: Buffer }
  | { kind: 'fill'; offset: number; length: number; byte: number };

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new DiskarcError('EINTR', 'interrupted; the archive is unchanged (earlier streams intact)');
}

export async function pack(archive: Archive, inputPath: string, opts: PackOptions = {}): Promise<PackResult> {
  const started = performance.now();
  const unlock = await archive.lock();
  const input = await FileBlockSource.open(inputPath).catch(async (e) => {
    await unlock();
    throw e;
  });
  const id = randomBytes(8).toString('hex');
  const tmpDir = join(archive.dir, STREAMS_DIR, `.tmp-${id}`);
  let writer: SlabStoreWriter | undefined;
  let chunks: ChunkWriter | undefined;
  let map: MapWriter | undefined;
  let committed = false;
  try {
    const dedup = new DedupIndex(archive.store);
    await dedup.load(archive.dir);
    await dedup.catchUp();
    writer = await SlabStoreWriter.open(archive.store, archive.config.slabFileLimit);
    const { max } = chunkBounds(archive.config.blockSize);
    const cw = new ChunkWriter(writer, archive.pool, dedup, archive.config.slabSize, max, archive.config.compression);
    chunks = cw;
    await mkdir(tmpDir);
    map = await MapWriter.create(tmpDir);
    const digest = createHash('sha256');
    const stats = { read: 0, fill: 0, dup: 0 };

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
          await map!.add({ offset: op.offset, length: op.length, type: ExtentType.Fill, fillByte: op.byte, slab: 0, slabOffset: 0, chunk: 0 });
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
        await map!.add({ offset: op.offset, length, type: ExtentType.Data, fillByte: 0, slab: loc.slab, slabOffset: loc.offset, chunk: loc.chunk });
      }
    };

    let lastProgress = 0;
    const progress = (done: number, force = false) => {
      const now = performance.now();
      if (opts.onProgress && (force || now - lastProgress > 200)) {
        lastProgress = now;
        opts.onProgress({ done, size: input.size, read: stats.read, stored: cw.stats.dataWritten, phase: 'pack' });
      }
    };

    const hole = async (offset: number, length: number) => {
      splitter.endRun();
      await flushOps();
      await map!.add({ offset, length, type: ExtentType.Unmapped, fillByte: 0, slab: 0, slabOffset: 0, chunk: 0 });
      for (let left = length; left > 0; left -= Math.min(left, ZEROS.length)) digest.update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
    };

    // Two buffers: the next read is in flight while the current one is split and hashed.
    let spare = Buffer.allocUnsafeSlow(READ_SIZE);
    let current = Buffer.allocUnsafeSlow(READ_SIZE);
    const bs = archive.config.blockSize;
    for (let winStart = 0; winStart < input.size; winStart += EXTENT_WINDOW) {
      const extents = await input.extents(winStart, Math.min(EXTENT_WINDOW, input.size - winStart));
      for (const ext of extents) {
        checkAbort(opts.signal);
        if (ext.kind !== 'data') {
          await hole(ext.offset, ext.length);
          progress(ext.offset + ext.length);
          continue;
        }
        const end = ext.offset + ext.length;
        // Reads end on block boundaries so fill runs are seen whole.
        const nextLen = (pos: number) => Math.min(end - pos, READ_SIZE - (pos % bs));
        let pos = ext.offset;
        let len = nextLen(pos);
        let pending: Promise<void> | undefined = input.readInto(current.subarray(0, len), pos);
        while (pending) {
          await pending;
          const buf = current.subarray(0, len);
          const at = pos;
          pos += len;
          if (pos < end) {
            len = nextLen(pos);
            [current, spare] = [spare, current];
            pending = input.readInto(current.subarray(0, len), pos);
            pending.catch(() => undefined); // surfaced when awaited
          } else {
            [current, spare] = [spare, current];
            pending = undefined;
          }
          digest.update(buf);
          stats.read += buf.length;
          splitter.push(buf, at);
          await flushOps();
          await cw.drain();
          checkAbort(opts.signal);
          progress(at + buf.length);
        }
      }
    }
    splitter.endRun();
    await flushOps();
    await cw.finish();
    await writer.sync();
    await map.finish();
    progress(input.size, true);

    const seconds = (performance.now() - started) / 1000;
    const info: StreamInfo = {
      id,
      name: opts.name ?? basename(inputPath),
      sourcePath: resolve(inputPath),
      size: input.size,
      mappedSize: stats.read,
      fillBytes: stats.fill,
      duplicateBytes: stats.dup,
      dataWritten: cw.stats.dataWritten,
      hashesWritten: cw.stats.hashesWritten,
      mapWritten: map.bytesWritten,
      extentCount: map.entries,
      packTime: new Date().toISOString(),
      packSeconds: Math.round(seconds * 1000) / 1000,
      toolVersion,
      digest: `sha256:${digest.digest('hex')}`,
    };
    const metaPath = join(tmpDir, META_FILE);
    await writeFile(metaPath, JSON.stringify(info, null, 2) + '\n');
    const mfh = await open(metaPath, 'r+');
    await mfh.sync();
    await mfh.close();
    await fsyncDir(tmpDir);

    let verified = false;
    if (opts.verify !== false) {
      const reader = await archive.openUncommitted(tmpDir, info);
      try {
        await compareSources(reader, input, {
          signal: opts.signal,
          onProgress: (done) => opts.onProgress?.({ done, size: input.size, read: stats.read, stored: cw.stats.dataWritten, phase: 'verify' }),
          describe: (offset) => `pack verify failed: stream ${id} differs from ${inputPath} at offset ${offset} (input changed while packing?); nothing was committed`,
        });
        verified = true;
      } finally {
        await reader.close();
      }
    }
    checkAbort(opts.signal);
    await dedup.save(archive.dir);
    await rename(tmpDir, archive.streamDir(id));
    await fsyncDir(join(archive.dir, STREAMS_DIR));
    committed = true;
    const total = (performance.now() - started) / 1000;
    const newBytes = cw.stats.newBytes;
    return {
      ...info,
      bytesRead: stats.read,
      newChunks: cw.stats.newChunks,
      compressionRatio: cw.stats.dataWritten > 0 ? newBytes / cw.stats.dataWritten : 1,
      verified,
      mibPerSecond: input.size / 1024 / 1024 / Math.max(total, 1e-6),
    };
  } finally {
    if (!committed) {
      // Slabs already appended stay, unreferenced and harmless; syncing their offsets lets the
      // next pack append to the same file. Errors here would mask the one being reported.
      await chunks?.abandon();
      await map?.abort();
      await rm(tmpDir, { recursive: true, force: true });
      await writer?.close().catch(() => undefined);
    } else {
      await writer?.close();
    }
    await input.close();
    await unlock();
  }
}
