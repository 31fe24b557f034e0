// The splitter on plain buffers: chunks tile the input exactly, respect min/max, carry state
// across buffer boundaries, find fills, and — being content-defined — an insertion only changes
// the chunks around it.
import test from 'ava';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { Splitter } from '../../src/archive/splitter.js';
import { cutParams, findCuts, findCutsJs } from '../../src/archive/gear.js';
import { seededBytes } from './harness.js';

interface Piece { kind: 'chunk' | 'fill'; offset: number; length: number; hash?: string; byte?: number }

function split(input: Buffer, pushSizes: number[], blockSize = 4096): Piece[] {
  const out: Piece[] = [];
  const s = new Splitter(blockSize, {
    chunk: (data, hash, offset) => out.push({ kind: 'chunk', offset, length: data.length, hash: hash.toString('hex') }),
    fill: (byte, offset, length) => out.push({ kind: 'fill', offset, length, byte }),
  });
  let pos = 0;
  let i = 0;
  while (pos < input.length) {
    const n = Math.min(pushSizes[i++ % pushSizes.length], input.length - pos);
    s.push(Buffer.from(input.subarray(pos, pos + n)), pos);
    pos += n;
  }
  s.endRun();
  return out;
}

test('chunks and fills tile the input exactly, whatever the buffer sizes', (t) => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 100000 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 300000 }), (pushes, size) => {
    const input = Buffer.concat([seededBytes(size, 5), Buffer.alloc(20000), seededBytes(5000, 6)]);
    const pieces = split(input, pushes.map((p) => Math.max(4096, p - (p % 4096))));
    let at = 0;
    for (const p of pieces) {
      if (p.offset !== at) return false;
      if (p.kind === 'chunk') {
        if (p.length > 32768) return false;
        if (p.hash !== createHash('sha256').update(input.subarray(p.offset, p.offset + p.length)).digest('hex')) return false;
      } else if (!input.subarray(p.offset, p.offset + p.length).equals(Buffer.alloc(p.length, p.byte))) return false;
      at += p.length;
    }
    return at === input.length;
  }), { numRuns: 60 });
  t.pass();
});

test('aligned runs of one byte value become fills', (t) => {
  const input = Buffer.concat([seededBytes(8192, 1), Buffer.alloc(64 * 1024, 0xee), seededBytes(100, 2)]);
  const fills = split(input, [1 << 20]).filter((p) => p.kind === 'fill');
  t.deepEqual(fills, [{ kind: 'fill', offset: 8192, length: 64 * 1024, byte: 0xee }]);
});

test('an insertion changes only the chunks near it (content-defined boundaries)', (t) => {
  const base = seededBytes(4 * 1024 * 1024, 77);
  const edited = Buffer.concat([base.subarray(0, 2_000_003), Buffer.from('inserted bytes shift everything after them'), base.subarray(2_000_003)]);
  const a = new Set(split(base, [1 << 20]).map((p) => p.hash));
  const b = split(edited, [1 << 20]);
  const fresh = b.filter((p) => !a.has(p.hash));
  t.true(fresh.length <= 3, `${fresh.length} of ${b.length} chunks changed`);
  const sizes = b.map((p) => p.length);
  const avg = sizes.reduce((x, y) => x + y, 0) / sizes.length;
  t.true(avg > 3000 && avg < 8000, `average chunk ${avg}`);
});

test('the native cut finder agrees with the JavaScript reference', (t) => {
  const buf = seededBytes(3 * 1024 * 1024 + 123, 9);
  const p = cutParams(1024, 4096, 32768);
  const a = new Uint32Array(4000);
  const b = new Uint32Array(4000);
  const n = findCuts(buf, p, a);
  t.is(findCutsJs(buf, p, b), n);
  t.deepEqual([...a.subarray(0, n)], [...b.subarray(0, n)]);
});
