// readParts / sliceParts / copyParts: slicing a list of buffers is slicing their concatenation.
import test from 'ava';
import fc from 'fast-check';
import { copyParts, readParts, sliceParts } from '../../src/block/parts.js';
import { BufferSource } from '../../fs/tree/buffer-source.js';

const partsArb = fc.array(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)),
  { maxLength: 8 },
);

test('sliceParts(parts, from, to) concatenates to the same slice of the whole', (t) => {
  fc.assert(
    fc.property(partsArb, fc.nat(), fc.nat(), (parts, a, b) => {
      const whole = Buffer.concat(parts);
      const from = whole.length ? a % (whole.length + 1) : 0;
      const to = from + (whole.length - from ? b % (whole.length - from + 1) : 0);
      const sliced = sliceParts(parts, from, to);
      return Buffer.concat(sliced).equals(whole.subarray(from, to)) && sliced.every((p) => p.length > 0);
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('copyParts writes the parts one after another at the given position', (t) => {
  const dest = Buffer.alloc(10, 0xee);
  t.is(copyParts([Buffer.from('ab'), Buffer.from('cde')], dest, 3), 5);
  t.is(dest.toString('latin1'), '\xee\xee\xeeabcde\xee\xee');
});

test('readParts falls back to one read() for sources without readv', async (t) => {
  const src = new BufferSource(Buffer.from('hello world'));
  const parts = await readParts(src, 6, 5);
  t.is(parts.length, 1);
  t.is(parts[0]!.toString(), 'world');
});
