// Writes a deterministic sample disk image in plain JavaScript: an MBR with two partitions whose
// contents exercise everything an archive cares about — incompressible data, a repeated block
// (dedup), explicit zeros and a 0xFF run (fills), text (compressible) and unwritten holes.
// Used by `npm start` (the demo) and as a test fixture; the layout is returned so tests can check it.
import { open } from 'node:fs/promises';

const MiB = 1024 * 1024;
const SECTOR = 512;

export interface SampleRegion {
  offset: number;
  length: number;
  kind: 'random' | 'repeated' | 'zeros' | 'ones' | 'text' | 'hole';
}

export interface SampleDisk {
  size: number;
  partitions: Array<{ index: number; start: number; size: number; type: number }>;
  /** Regions written (or left as holes), in offset order; everything not listed is a hole. */
  regions: SampleRegion[];
}

/** xorshift32 keystream: reproducible and incompressible enough for zstd. */
function fillRandom(buf: Buffer, seed: number): void {
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
}

function textBlock(length: number, seed: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  let size = 0;
  while (size < length) {
    const line =
      `${String(seed + n).padStart(8, '0')} diskarc sample log line: request served from slab cache, status=ok ` +
      `bytes=${(n * 4096) % 1048576}\n`;
    lines.push(line);
    size += line.length;
    n++;
  }
  return Buffer.from(lines.join('')).subarray(0, length);
}

function mbr(partitions: SampleDisk['partitions'], diskId: number): Buffer {
  const b = Buffer.alloc(SECTOR);
  b.writeUInt32LE(diskId, 440);
  for (const p of partitions) {
    const e = 446 + (p.index - 1) * 16;
    b[e] = 0x00;
    // CHS fields unused by anything modern: the "LBA only" marker values.
    b.writeUIntLE(0xfffffe, e + 1, 3);
    b[e + 4] = p.type;
    b.writeUIntLE(0xfffffe, e + 5, 3);
    b.writeUInt32LE(p.start / SECTOR, e + 8);
    b.writeUInt32LE(p.size / SECTOR, e + 12);
  }
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

/** The sample layout for a disk of `sizeMiB` MiB (at least 16). */
export function sampleLayout(sizeMiB = 48): SampleDisk {
  const size = Math.max(16, sizeMiB) * MiB;
  const p1 = { index: 1, start: 1 * MiB, size: Math.floor((size - 2 * MiB) / 2 / MiB) * MiB, type: 0x83 };
  const p2 = { index: 2, start: p1.start + p1.size, size: size - (p1.start + p1.size) - MiB, type: 0x0c };
  const u = Math.max(1, Math.floor(p1.size / MiB / 8)); // region unit, ≥1 MiB
  const regions: SampleRegion[] = [
    { offset: p1.start, length: 2 * u * MiB, kind: 'random' },
    { offset: p1.start + 2 * u * MiB, length: 2 * u * MiB, kind: 'repeated' },
    { offset: p1.start + 4 * u * MiB, length: u * MiB, kind: 'zeros' },
    { offset: p1.start + 5 * u * MiB, length: 2 * u * MiB, kind: 'hole' },
    { offset: p1.start + 7 * u * MiB, length: u * MiB - 64 * 1024, kind: 'random' },
    { offset: p1.start + 8 * u * MiB - 64 * 1024, length: 64 * 1024, kind: 'ones' },
    { offset: p2.start, length: Math.floor(p2.size / 2 / MiB) * MiB, kind: 'text' },
  ];
  return { size, partitions: [p1, p2], regions };
}

/** Writes the sample disk to `path` (created or truncated; holes stay unallocated). */
export async function writeSampleDisk(path: string, sizeMiB = 48, seed = 1): Promise<SampleDisk> {
  const layout = sampleLayout(sizeMiB);
  const fh = await open(path, 'w');
  try {
    await fh.truncate(layout.size);
    await fh.write(mbr(layout.partitions, 0x5eed0000 + seed), 0, SECTOR, 0);
    const repeated = Buffer.alloc(64 * 1024);
    fillRandom(repeated, seed * 7919);
    let n = 0;
    for (const r of layout.regions) {
      if (r.kind === 'hole') continue;
      for (let at = 0; at < r.length; at += MiB) {
        const len = Math.min(MiB, r.length - at);
        let chunk: Buffer;
        if (r.kind === 'random') {
          chunk = Buffer.alloc(len);
          fillRandom(chunk, seed * 1000003 + ++n);
        } else if (r.kind === 'repeated')
          chunk = Buffer.concat(Array.from({ length: Math.ceil(len / repeated.length) }, () => repeated)).subarray(0, len);
        else if (r.kind === 'zeros') chunk = Buffer.alloc(len);
        else if (r.kind === 'ones') chunk = Buffer.alloc(len, 0xff);
        else chunk = textBlock(len, seed * 100000 + at / 64);
        await fh.write(chunk, 0, len, r.offset + at);
      }
    }
  } finally {
    await fh.close();
  }
  return layout;
}
