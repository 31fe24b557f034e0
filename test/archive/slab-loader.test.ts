// SlabLoader on its own, over a real packed archive: both load paths (one native job, read then
// decode) give the bytes the stream's map places there, and the loader is where damage becomes
// ECORRUPT — a failed CRC-32 (compressed and stored slabs), a length past the size cap.
import test from 'ava';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Archive } from '../../src/archive/archive.js';
import { ExtentType, SLAB_FLAG_ZSTD, slabHeader } from '../../src/archive/layout.js';
import { encodeSlabHeader } from '../../src/archive/slab-file.js';
import { SlabLoader } from '../../src/archive/slab-loader.js';
import { SlabStore } from '../../src/archive/slab-store.js';
import { LocalStorage } from '../../src/storage/local.js';
import { diskarcJson, seededBytes, tempDir } from './harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SLAB = 256 * KiB;
const fresh = (n: number) => Buffer.allocUnsafeSlow(n);

/** Half text-like (compresses), half random (stored as is when compression is off). */
function source(size: number): Buffer {
  const words = ['disk', 'slab', 'chunk', 'stream', 'archive', ' ', '\n', 'zstd', 'offset'];
  const text = Buffer.alloc(size >> 1);
  let x = 9;
  for (let pos = 0; pos < text.length; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    pos += Buffer.from(words[(x >>> 16) % words.length]!).copy(text, pos);
  }
  return Buffer.concat([text, seededBytes(size - text.length, 4)]);
}

async function packed(t: Parameters<typeof tempDir>[0], compression: string) {
  const dir = await tempDir(t);
  const data = source(3 * MiB + 123);
  await writeFile(join(dir, 'in'), data);
  const archive = join(dir, 'a');
  await diskarcJson('create', '-a', archive, '--slab-size', '256k', '--compression', compression);
  const { id } = await diskarcJson<{ id: string }>('pack', '-a', archive, join(dir, 'in'));
  const name = (await readdir(join(archive, 'data'))).find((f) => f.endsWith('.slab'))!;
  const raw = await readFile(join(archive, 'data', name + '.offsets'));
  const offsets: number[] = [];
  for (let i = 0; i + 8 <= raw.length; i += 8) offsets.push(Number(raw.readBigUInt64LE(i)));
  return { archive, id, data, slabFile: join(archive, 'data', name), offsets };
}

async function openStore(t: Parameters<typeof tempDir>[0], archive: string): Promise<SlabStore> {
  const store = await SlabStore.open(await LocalStorage.open(archive));
  t.teardown(() => store.close());
  return store;
}

test('both load paths give the bytes the map places in each slab; the one-job path takes the compressed ones', async (t) => {
  const { archive, id, data, slabFile, offsets } = await packed(t, 'zstd:3');
  const a = await Archive.open(archive);
  t.teardown(() => a.close());
  const reader = await a.openStream(id);
  const extents: Array<{ offset: number; length: number; slab: number; slabOffset: number }> = [];
  await reader.mapExtents(0, data.length, (e) => void (e.type === ExtentType.Data && extents.push(e)));
  t.true(extents.length > 0);

  const loader = new SlabLoader(await openStore(t, archive), { slabBytes: SLAB, maxLoads: 2 });
  const twoHop = await Promise.all(offsets.map((_, i) => loader.load(i, fresh)));
  t.is(loader.singleJobLoads, 0, 'without oneTrip every load is read, then decoded');
  const oneJob = await Promise.all(offsets.map((_, i) => loader.load(i, fresh, SLAB)));
  // Compressed slabs but the file's last (no next offset gives its span); stored ones are copied.
  const file = await readFile(slabFile);
  const eligible = offsets.slice(0, -1).filter((o) => slabHeader.decode(file.subarray(o, o + slabHeader.size)).flags & SLAB_FLAG_ZSTD);
  t.true(eligible.length >= 4 && eligible.length < offsets.length - 1, `${eligible.length} of ${offsets.length}`);
  t.is(loader.singleJobLoads, eligible.length);
  for (let i = 0; i < offsets.length; i++) t.true(oneJob[i]!.equals(twoHop[i]!), `slab ${i}: both paths agree`);
  for (const e of extents) {
    const slab = twoHop[e.slab]!;
    t.true(slab.subarray(e.slabOffset, e.slabOffset + e.length).equals(data.subarray(e.offset, e.offset + e.length)), `extent at ${e.offset}`);
  }
  await t.throwsAsync(loader.load(offsets.length, fresh), { code: 'ECORRUPT', message: /slab \d+ is referenced but not in the archive/ });
});

test('a stored (uncompressed) slab failing its CRC-32 is ECORRUPT on both paths, naming file and offset', async (t) => {
  const { archive, slabFile, offsets } = await packed(t, 'none');
  const fh = await open(slabFile, 'r+');
  const at = offsets[1]!;
  const header = Buffer.alloc(slabHeader.size);
  await fh.read(header, 0, header.length, at);
  t.is(slabHeader.decode(header).flags & SLAB_FLAG_ZSTD, 0, 'stored as is');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at + slabHeader.size + 100);
  b[0] ^= 0x01;
  await fh.write(b, 0, 1, at + slabHeader.size + 100);
  await fh.close();

  const loader = new SlabLoader(await openStore(t, archive), { slabBytes: SLAB });
  const expected = { code: 'ECORRUPT', message: `${slabFile}: slab 1 at offset ${at} fails its checksum (archive data is damaged)` };
  await t.throwsAsync(loader.load(1, fresh), expected);
  await t.throwsAsync(loader.load(1, fresh, SLAB), expected);
  t.true((await loader.load(0, fresh, SLAB)).equals(await loader.load(0, fresh)), 'its neighbour still loads');
});

test('a header claiming more than any slab holds is refused before anything is allocated for it', async (t) => {
  const { archive, slabFile, offsets } = await packed(t, 'zstd:3');
  const fh = await open(slabFile, 'r+');
  const at = offsets[0]!;
  const header = Buffer.alloc(slabHeader.size);
  await fh.read(header, 0, header.length, at);
  const h = slabHeader.decode(header);
  t.is(h.flags & SLAB_FLAG_ZSTD, SLAB_FLAG_ZSTD);
  const payload = Buffer.alloc(h.storedLength);
  await fh.read(payload, 0, payload.length, at + slabHeader.size);
  // A valid header (its own CRC matches) whose uncompressed length is 1 GiB.
  await fh.write(encodeSlabHeader(h.flags, h.storedLength, 1024 * MiB, crc32(payload)), 0, slabHeader.size, at);
  await fh.close();

  const loader = new SlabLoader(await openStore(t, archive), { slabBytes: SLAB });
  const asked: number[] = [];
  const recording = (n: number) => (asked.push(n), fresh(n));
  for (const oneTrip of [undefined, SLAB]) {
    asked.length = 0;
    await t.throwsAsync(loader.load(0, recording, oneTrip), { code: 'ECORRUPT', message: 'data slab 0 claims 1073741824 bytes, more than any slab holds' });
    t.false(asked.some((n) => n > SLAB), `no allocation past the slab size (asked ${asked.join(', ')})`);
  }
});
