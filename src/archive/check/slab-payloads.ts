// --deep's reading of data slab payloads (format.md §3–4): each payload's CRC-32, its zstd frame
// and uncompressed length, and every chunk's SHA-256 against the slab's hash list. Several slabs
// are decoded at once on libuv's pool (both cores busy) while the main thread hashes.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { zstdDecompress } from '../../../native/index.js';
import { DiskarcError } from '../../errors.js';
import { HASH_BYTES, hashRecord, SLAB_FLAG_ZSTD, slabHeader } from '../layout.js';
import type { CheckContext } from './context.js';
import type { Problem, ProblemKind } from './report.js';
import type { SlabState } from './slab-files.js';

/** Data slabs checked at once. */
const DEEP_CONCURRENCY = 4;

/** A slab record whose header was found intact: where it is and what the header says. */
export interface RecordAt {
  at: number;
  storedLength: number;
  length: number;
  flags: number;
  payloadCrc: number;
}

/** Slab id → its data file (relative) and record. */
export type DataRecords = Map<number, { rel: string; rec: RecordAt }>;

/** Reads payloads through one open handle per file, closed together. */
export class PayloadReader {
  private readonly handles = new Map<string, FileHandle>();

  constructor(private readonly ctx: CheckContext) {}

  async payload(rel: string, rec: RecordAt): Promise<Buffer> {
    let fh = this.handles.get(rel);
    if (!fh) {
      const opened = await this.ctx.open(rel);
      if (!opened) throw new DiskarcError('ECORRUPT', `${rel} disappeared during the check`);
      // Another worker may have opened it meanwhile: keep one handle per file.
      fh = this.handles.get(rel);
      if (fh) await opened.close();
      else this.handles.set(rel, (fh = opened));
    }
    return this.ctx.read(fh, rec.storedLength, rec.at + slabHeader.size);
  }

  /** The slab's uncompressed bytes, or undefined when its payload is damaged. */
  async decompressed(rel: string, rec: RecordAt): Promise<Buffer | undefined> {
    const got = await decode(await this.payload(rel, rec), rec);
    return 'raw' in got ? got.raw : undefined;
  }

  async close(): Promise<void> {
    for (const fh of this.handles.values()) await fh.close();
    this.handles.clear();
  }
}

/** The payload decoded, or why it is not what its header says. */
async function decode(payload: Buffer, rec: RecordAt): Promise<{ raw: Buffer } | { kind: ProblemKind; what: string }> {
  if (crc32(payload) !== rec.payloadCrc) return { kind: 'checksum', what: 'fails its checksum' };
  if (!(rec.flags & SLAB_FLAG_ZSTD)) return payload.length === rec.length ? { raw: payload } : { kind: 'content', what: 'has a stored length that differs from its length' };
  try {
    return { raw: await zstdDecompress(payload, rec.length) };
  } catch {
    return { kind: 'content', what: 'does not decompress' };
  }
}

/** Checks every data slab not already known damaged; a failure damages the slab. */
export async function checkDataPayloads(ctx: CheckContext, state: SlabState, records: DataRecords, reader: PayloadReader, addDamage: (id: number, p: Problem) => void): Promise<void> {
  const ids = [...records.keys()].filter((id) => !state.damaged.has(id));
  const worker = async () => {
    for (let id = ids.shift(); id !== undefined; id = ids.shift()) {
      const { rel, rec } = records.get(id)!;
      const got = await decode(await reader.payload(rel, rec), rec);
      let bad = 'raw' in got ? undefined : got;
      const list = state.hashLists.get(id);
      for (let c = 0; 'raw' in got && list && !bad && c * hashRecord.size < list.length; c++) {
        const at = c * hashRecord.size;
        const off = hashRecord.get(list, at, 'offset');
        const sum = createHash('sha256').update(got.raw.subarray(off, off + hashRecord.get(list, at, 'length'))).digest();
        if (list.compare(sum, 0, HASH_BYTES, at, at + HASH_BYTES) !== 0) bad = { kind: 'content', what: `chunk ${c} fails its SHA-256` };
      }
      if (bad) addDamage(id, ctx.log.add({ file: rel, offset: rec.at, length: slabHeader.size + rec.storedLength, kind: bad.kind, message: `${rel}: slab at offset ${rec.at} (slab id ${id}) ${bad.what}` }));
    }
  };
  await Promise.all(Array.from({ length: DEEP_CONCURRENCY }, worker));
}
