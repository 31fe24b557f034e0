// Name rules of the virtual tree: safe components, reversible escaping, unique suffixes.
import test from 'ava';
import fc from 'fast-check';
import { escapeName, safeEntryName, uniqueNames } from '../../../fs/tree/names.js';

test('escaping removes / and NUL, never yields . or .., and keeps distinct names distinct', (t) => {
  t.is(escapeName('pc/disk'), 'pc%2Fdisk');
  t.is(escapeName('a\0b'), 'a%00b');
  t.is(escapeName('50%'), '50%25');
  t.is(escapeName('.'), '%2E');
  t.is(escapeName('..'), '%2E%2E');
  t.is(escapeName(''), '%00');
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (a, b) => {
      const ea = escapeName(a);
      if (ea.includes('/') || ea.includes('\0') || ea === '.' || ea === '..' || ea === '') return false;
      return a === b || ea !== escapeName(b);
    }),
  );
});

test('names longer than 255 bytes are cut on a character boundary', (t) => {
  const long = 'é'.repeat(200);
  const e = escapeName(long);
  t.true(Buffer.byteLength(e) <= 255);
  t.true(long.startsWith(e));
  t.is(safeEntryName('a/b\0c'), 'a_b_c');
});

test('collisions get ~N suffixes before the extension, never clashing with real names', (t) => {
  t.deepEqual(uniqueNames(['a.img', 'a.img', 'a.img']), ['a.img', 'a~2.img', 'a~3.img']);
  t.deepEqual(uniqueNames(['x', 'x', 'x~2']), ['x', 'x~3', 'x~2']);
  t.deepEqual(uniqueNames(['disk.img'], ['disk.img']), ['disk~2.img']);
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', 'a~2', 'b.c', 'b~2.c', '.x'), { maxLength: 12 }), (names) => {
      const out = uniqueNames(names);
      return new Set(out).size === out.length && out.length === names.length;
    }),
  );
});
