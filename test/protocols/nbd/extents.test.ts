import test from 'ava';
import fc from 'fast-check';
import type { Extent } from '../../../src/block/source.js';
import { allocationDescriptors, planRead } from '../../../protocols/nbd/extents.js';

const ex = (offset: number, length: number, kind: Extent['kind']): Extent => ({ offset, length, kind });

test('planRead sends long zero runs as holes and folds short ones into data', (t) => {
  const extents = [ex(0, 8192, 'data'), ex(8192, 100, 'zero'), ex(8292, 4000, 'data'), ex(12292, 65536, 'hole'), ex(77828, 4096, 'zero')];
  t.deepEqual(planRead(extents, 0, 81924, 4096), [
    { offset: 0, length: 12292, zero: false },
    { offset: 12292, length: 65536 + 4096, zero: true },
  ]);
});

test('planRead clips to the request and treats gaps in the source extents as data', (t) => {
  const extents = [ex(0, 10000, 'hole'), ex(20000, 10000, 'hole')];
  t.deepEqual(planRead(extents, 5000, 20000, 1024), [
    { offset: 5000, length: 5000, zero: true },
    { offset: 10000, length: 10000, zero: false },
    { offset: 20000, length: 5000, zero: true },
  ]);
});

test('allocationDescriptors maps hole → HOLE|ZERO, zero → ZERO, data → 0, merging equal neighbours', (t) => {
  const extents = [ex(0, 512, 'hole'), ex(512, 512, 'hole'), ex(1024, 1024, 'zero'), ex(2048, 4096, 'data'), ex(6144, 2048, 'data')];
  t.deepEqual(allocationDescriptors(extents, 0, 8192, false), [
    { length: 1024, flags: 3 },
    { length: 1024, flags: 2 },
    { length: 6144, flags: 0 },
  ]);
  t.deepEqual(allocationDescriptors(extents, 100, 8000, true), [{ length: 924, flags: 3 }]);
  t.deepEqual(allocationDescriptors(extents, 0, 8192, false, 2), [
    { length: 1024, flags: 3 },
    { length: 1024, flags: 2 },
  ]);
});

test('property: plans and descriptors tile the requested range exactly', (t) => {
  const kinds: Extent['kind'][] = ['data', 'zero', 'hole'];
  fc.assert(
    fc.property(
      fc.array(fc.record({ length: fc.integer({ min: 1, max: 20000 }), kind: fc.constantFrom(...kinds) }), { minLength: 1, maxLength: 30 }),
      fc.nat(),
      fc.nat(),
      (parts, a, b) => {
        let off = 0;
        const extents = parts.map((p) => {
          const e = ex(off, p.length, p.kind);
          off += p.length;
          return e;
        });
        const start = a % off;
        const length = 1 + (b % (off - start));
        const plan = planRead(extents, start, length, 4096);
        let pos = start;
        for (const p of plan) {
          if (p.offset !== pos || p.length <= 0) return false;
          pos += p.length;
        }
        if (pos !== start + length) return false;
        const desc = allocationDescriptors(extents, start, length, false);
        return desc.reduce((n, d) => n + d.length, 0) === length && desc.every((d, i) => i === 0 || d.flags !== desc[i - 1]!.flags);
      },
    ),
  );
  t.pass();
});
