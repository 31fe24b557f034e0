// Runlist decoder on hand-made buffers: sparse runs, negative deltas, termination and bounds.
import test from 'ava';
import fc from 'fast-check';
import { decodeRunlist, encodeRunlist, type Run } from '../../../fs/ntfs/runlist.js';
import { isDiskarcError } from '../../../src/errors.js';

test('decodes the documented example runlist', (t) => {
  // 0x21 0x18 0x34 0x56: 24 clusters at LCN 0x5634; 0x11 0x30 0x60: 48 clusters at +0x60;
  // 0x01 0x10: 16 sparse clusters; 0x11 0x08 0xF0: 8 clusters at −16; end.
  const buf = Buffer.from([0x21, 0x18, 0x34, 0x56, 0x11, 0x30, 0x60, 0x01, 0x10, 0x11, 0x08, 0xf0, 0x00]);
  t.deepEqual(decodeRunlist(buf, 0, buf.length, 0, 1 << 20, 'test'), [
    { vcn: 0, lcn: 0x5634, length: 0x18 },
    { vcn: 0x18, lcn: 0x5694, length: 0x30 },
    { vcn: 0x48, lcn: null, length: 0x10 },
    { vcn: 0x58, lcn: 0x5684, length: 0x08 },
  ]);
});

test('starts at the fragment first VCN', (t) => {
  const buf = Buffer.from([0x11, 0x04, 0x10, 0x00]);
  t.deepEqual(decodeRunlist(buf, 0, buf.length, 100, 1000, 'test'), [{ vcn: 100, lcn: 16, length: 4 }]);
});

const bad: Array<[string, number[]]> = [
  ['unterminated', [0x11, 0x04, 0x10]],
  ['zero-length field', [0x10, 0x04, 0x00]],
  ['nine-byte length', [0x09, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]],
  ['length zero', [0x11, 0x00, 0x10, 0x00]],
  ['negative LCN', [0x11, 0x04, 0xf0, 0x00]],
  ['beyond the volume', [0x21, 0x04, 0x00, 0x10, 0x00]],
  ['truncated run', [0x32, 0x04]],
];
for (const [name, bytes] of bad) {
  test(`rejects a ${name} runlist with EFS`, (t) => {
    const buf = Buffer.from(bytes);
    const e = t.throws(() => decodeRunlist(buf, 0, buf.length, 0, 0x1000, 'MFT record 99 $DATA runlist'));
    t.true(isDiskarcError(e, 'EFS'));
    t.regex(e!.message, /MFT record 99/);
  });
}

test('encode/decode round-trip on random run sequences', (t) => {
  const runArb = fc.array(
    fc.record({ sparse: fc.boolean(), lcn: fc.integer({ min: 0, max: 2 ** 40 }), length: fc.integer({ min: 1, max: 2 ** 32 }) }),
    { minLength: 0, maxLength: 40 },
  );
  fc.assert(
    fc.property(runArb, (spec) => {
      let vcn = 0;
      const runs: Run[] = spec.map((s) => {
        const r = { vcn, lcn: s.sparse ? null : s.lcn, length: s.length };
        vcn += s.length;
        return r;
      });
      const enc = encodeRunlist(runs);
      const dec = decodeRunlist(enc, 0, enc.length, 0, 2 ** 41, 'rt');
      t.deepEqual(dec, runs);
      return true;
    }),
    { numRuns: 300 },
  );
});

test('random bytes decode or fail with EFS, never anything else', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const buf = Buffer.from(bytes);
      try {
        const runs = decodeRunlist(buf, 0, buf.length, 0, 1 << 20, 'fuzz');
        for (const r of runs) if (!(r.length > 0) || (r.lcn !== null && (r.lcn < 0 || r.lcn + r.length > 1 << 20))) return false;
      } catch (e) {
        return isDiskarcError(e, 'EFS');
      }
      return true;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});
