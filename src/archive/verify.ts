// verify: checks a stream against a file or device (first differing offset), or against its own
// records — every referenced slab reads and decompresses, every chunk's SHA-256 matches its hash
// list, and the whole content's digest matches the one recorded at pack time.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { FileBlockSource } from '../block/file-source.js';
import { DiskarcError, isDiskarcError } from '../errors.js';
import type { Archive } from './archive.js';
import { compareSources } from './compare.js';
import { HASH_BYTES, hashRecord, ExtentType } from './layout.js';

const WINDOW = 8 * 1024 * 1024;

export interface VerifyResult {
  stream: string;
  name: string;
  size: number;
  mode: 'input' | 'self';
  input?: string;
  chunksChecked?: number;
  digest?: string;
  seconds: number;
}

export interface VerifyOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, size: number) => void;
}

export async function verifyAgainstInput(archive: Archive, ref: string, inputPath: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const reader = await archive.openStream(ref);
  try {
    const input = await FileBlockSource.open(inputPath);
    try {
      await compareSources(reader, input, {
        signal: opts.signal,
        onProgress: (d) => opts.onProgress?.(d, reader.size),
        describe: (offset) => `stream ${reader.info.id} (${reader.info.name}) differs from ${inputPath} at offset ${offset}`,
      });
    } finally {
      await input.close();
    }
    return { stream: reader.info.id, name: reader.info.name, size: reader.size, mode: 'input', input: inputPath, seconds: (performance.now() - started) / 1000 };
  } finally {
    await reader.close();
  }
}

export async function verifyIntegrity(archive: Archive, ref: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const reader = await archive.openStream(ref);
  const { id, name } = reader.info;
  const lists = new LRUCache<number, Buffer>({ maxSize: 64 * 1024 * 1024, sizeCalculation: (b) => Math.max(1, b.length) });
  const digest = createHash('sha256');
  let chunks = 0;
  let at = 0;
  try {
    for (; at < reader.size; at += WINDOW) {
      const len = Math.min(WINDOW, reader.size - at);
      const data = await reader.read(at, len);
      digest.update(data);
      await reader.mapExtents(at, len, async (e) => {
        if (e.type !== ExtentType.Data || e.offset < at) return; // a chunk is checked in the window where it starts
        const slab = await archive.cache.get(e.slab);
        let list = lists.get(e.slab);
        if (!list) lists.set(e.slab, (list = await archive.store.readHashes(e.slab)));
        const rec = e.chunk * hashRecord.size;
        if (rec + hashRecord.size > list.length || hashRecord.get(list, rec, 'offset') !== e.slabOffset || hashRecord.get(list, rec, 'length') !== e.length) {
          throw new DiskarcError('ECORRUPT', `stream ${id} (${name}): map entry at offset ${e.offset} disagrees with the hash list of slab ${e.slab}`, { stream: id, offset: e.offset, slab: e.slab });
        }
        const actual = createHash('sha256').update(slab.subarray(e.slabOffset, e.slabOffset + e.length)).digest();
        if (list.compare(actual, 0, HASH_BYTES, rec, rec + HASH_BYTES) !== 0) {
          throw new DiskarcError('ECORRUPT', `stream ${id} (${name}): chunk at offset ${e.offset} (slab ${e.slab}) does not match its SHA-256`, { stream: id, offset: e.offset, slab: e.slab });
        }
        chunks++;
      });
      if (opts.signal?.aborted) throw new DiskarcError('EINTR', 'interrupted');
      opts.onProgress?.(at + len, reader.size);
    }
    const got = `sha256:${digest.digest('hex')}`;
    if (got !== reader.info.digest) {
      throw new DiskarcError('ECORRUPT', `stream ${id} (${name}): content digest ${got} does not match the recorded ${reader.info.digest}`, { stream: id });
    }
    return { stream: id, name, size: reader.size, mode: 'self', chunksChecked: chunks, digest: got, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    // Slab-level damage is reported with the stream and the window being checked.
    if (isDiskarcError(e, 'ECORRUPT') && !('stream' in e.details)) {
      throw new DiskarcError('ECORRUPT', `stream ${id} (${name}): data near offset ${at} is damaged: ${e.message}`, { ...e.details, stream: id, offset: at }, { cause: e });
    }
    throw e;
  } finally {
    await reader.close();
  }
}
