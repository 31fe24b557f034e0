// The binary codec on its own: every field type round-trips through encode and decode (and back
// to the same bytes where the encoding is canonical), against independent references (BigInt,
// Buffer's readers); bounds, range and bad values fail through the table's hook or EINTERNAL (a writer's bug).
import test from 'ava';
import fc from 'fast-check';
import { BinaryTable, placed, sequenced, type DecodeFailure, type FixedType, type SizedType } from '../../src/binary/table.js';

class Failed extends Error {
  constructor(readonly failure: DecodeFailure) {
    super(failure.kind);
  }
}
const fail = (f: DecodeFailure) => new Failed(f);
const RUNS = { numRuns: 200 };

const TWO64 = 2n ** 64n;
const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const latin1 = (max: number) => fc.string({ unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: max });
const utf16 = (max: number) => fc.string({ unit: fc.integer({ min: 1, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: max });
const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex').toUpperCase());
const guidText = fc.tuple(hex(4), hex(2), hex(2), hex(2), hex(6)).map((p) => p.join('-'));

// Values each type accepts, and how Buffer's own readers (an independent reference) read it.
const fixed: Record<FixedType, { values: fc.Arbitrary<unknown>; reference?: (b: Buffer, at: number) => unknown }> = {
  u8: { values: fc.integer({ min: 0, max: 0xff }), reference: (b, at) => b.readUInt8(at) },
  i8: { values: fc.integer({ min: -0x80, max: 0x7f }), reference: (b, at) => b.readInt8(at) },
  u16le: { values: fc.integer({ min: 0, max: 0xffff }), reference: (b, at) => b.readUInt16LE(at) },
  u16be: { values: fc.integer({ min: 0, max: 0xffff }), reference: (b, at) => b.readUInt16BE(at) },
  u32le: { values: fc.integer({ min: 0, max: 0xffffffff }), reference: (b, at) => b.readUInt32LE(at) },
  u32be: { values: fc.integer({ min: 0, max: 0xffffffff }), reference: (b, at) => b.readUInt32BE(at) },
  u48le: { values: fc.integer({ min: 0, max: 2 ** 48 - 1 }), reference: (b, at) => b.readUIntLE(at, 6) },
  u64le: { values: safe, reference: (b, at) => Number(b.readBigUInt64LE(at)) },
  u64be: { values: safe, reference: (b, at) => Number(b.readBigUInt64BE(at)) },
  i64le: {
    values: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    reference: (b, at) => Number(b.readBigInt64LE(at)),
  },
  bigu64le: { values: fc.bigInt({ min: 0n, max: TWO64 - 1n }), reference: (b, at) => b.readBigUInt64LE(at) },
  bigu64be: { values: fc.bigInt({ min: 0n, max: TWO64 - 1n }), reference: (b, at) => b.readBigUInt64BE(at) },
  filetime: {
    values: fc.integer({ min: -11644473600000, max: 1844674407370955 - 11644473600000 }),
    reference: (b, at) => Number(b.readBigUInt64LE(at) / 10000n) - 11644473600000,
  },
  guid: { values: guidText },
};

const sized: Record<SizedType, (size: number) => fc.Arbitrary<unknown>> = {
  bytes: (size) => fc.uint8Array({ minLength: size, maxLength: size }).map((b) => Buffer.from(b)),
  ascii: (size) => latin1(size),
  utf16le: (size) => utf16(size >> 1),
};

for (const [type, { values, reference }] of Object.entries(fixed) as Array<[FixedType, (typeof fixed)[FixedType]]>) {
  test(`${type}: decode(encode(v)) = v at any offset, and Buffer reads the same value`, (t) => {
    // One table per offset (a table compiles once; the property runs many times).
    const tables = Array.from({ length: 10 }, (_, offset) => new BinaryTable(type, placed({ v: { offset, type } }), fail));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), values, (offset, v) => {
        const table = tables[offset];
        const buf = table.encode({ v } as never);
        const back = table.decode(buf).v;
        const text = typeof v === 'string' ? v.toUpperCase() : v;
        return back === text && (reference === undefined || reference(buf, offset) === back) && table.get(buf, 0, 'v') === back;
      }),
      RUNS,
    );
    t.pass();
  });
}

for (const [type, values] of Object.entries(sized) as Array<[SizedType, (size: number) => fc.Arbitrary<unknown>]>) {
  test(`${type}(n): decode(encode(v)) = v, padded with NULs to n bytes`, (t) => {
    const tables = Array.from({ length: 41 }, (_, size) =>
      size === 0 ? undefined : new BinaryTable(type, sequenced({ head: 'u8', v: { type, size }, tail: 'u8' }), fail),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((size) => fc.tuple(fc.constant(size), values(size))),
        ([size, v]) => {
          const table = tables[size]!;
          const buf = table.encode({ head: 0xff, v, tail: 0xee } as never, Buffer.alloc(size + 2, 0xaa));
          const back = table.decode(buf);
          const used = type === 'bytes' ? size : type === 'ascii' ? (v as string).length : (v as string).length * 2;
          return (
            (type === 'bytes' ? (back.v as Buffer).equals(v as Buffer) : back.v === v) &&
            back.head === 0xff &&
            back.tail === 0xee &&
            buf.subarray(1 + used, 1 + size).every((x) => x === 0)
          );
        },
      ),
      RUNS,
    );
    t.pass();
  });
}

test('encode(decode(bytes)) = bytes for every integer type, GUIDs and bytes (canonical encodings)', (t) => {
  const table = new BinaryTable(
    'all',
    sequenced({
      a: 'u8',
      b: 'i8',
      c: 'u16le',
      d: 'u16be',
      e: 'u32le',
      f: 'u32be',
      g: 'u48le',
      h: 'bigu64le',
      i: 'bigu64be',
      j: 'guid',
      k: { type: 'bytes', size: 5 },
    }),
    fail,
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: table.size, maxLength: table.size }), (raw) => {
      const bytes = Buffer.from(raw);
      return table.encode(table.decode(bytes)).equals(bytes);
    }),
    RUNS,
  );
  t.is(table.size, 1 + 1 + 2 + 2 + 4 + 4 + 6 + 8 + 8 + 16 + 5);
});

test('64-bit safe numbers: encode(decode(bytes)) = bytes below 2^53; beyond, decode fails with the field named', (t) => {
  const table = new BinaryTable(
    'wide',
    placed({ u: { offset: 0, type: 'u64le' }, b: { offset: 8, type: 'u64be' }, s: { offset: 16, type: 'i64le' } }),
    fail,
  );
  const limit = 2n ** 53n;
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: TWO64 - 1n }),
      fc.bigInt({ min: 0n, max: TWO64 - 1n }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      (u, b, s) => {
        const bytes = Buffer.alloc(24);
        bytes.writeBigUInt64LE(u, 0);
        bytes.writeBigUInt64BE(b, 8);
        bytes.writeBigInt64LE(s, 16);
        const bad = u >= limit ? 'u' : b >= limit ? 'b' : s <= -limit || s >= limit ? 's' : undefined;
        try {
          const v = table.decode(bytes);
          return bad === undefined && table.encode(v).equals(bytes) && v.s === Number(s);
        } catch (e) {
          return e instanceof Failed && e.failure.kind === 'range' && e.failure.field === bad;
        }
      },
    ),
    { numRuns: 500 },
  );
  // The edges, exactly: 2^53 − 1 and −(2^53 − 1) decode, 2^53 and −2^53 do not.
  const edge = (s: bigint) => {
    const bytes = Buffer.alloc(24);
    bytes.writeBigInt64LE(s, 16);
    return bytes;
  };
  t.is(table.decode(edge(limit - 1n)).s, Number.MAX_SAFE_INTEGER);
  t.is(table.decode(edge(1n - limit)).s, Number.MIN_SAFE_INTEGER);
  t.is(table.decode(edge(-1n)).s, -1);
  t.throws(() => table.decode(edge(limit)), { instanceOf: Failed });
  t.throws(() => table.decode(edge(-limit)), { instanceOf: Failed });
});

test('filetime: exact floor(ticks / 10^4) − epoch for any 64-bit value; whole-millisecond ticks round-trip to the same bytes', (t) => {
  const table = new BinaryTable('time', placed({ t: { offset: 0, type: 'filetime' } }), fail);
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: TWO64 - 1n }), (ticks) => {
      const bytes = Buffer.alloc(8);
      bytes.writeBigUInt64LE(ticks, 0);
      const ms = table.decode(bytes).t;
      const whole = Buffer.alloc(8);
      whole.writeBigUInt64LE(ticks - (ticks % 10000n), 0);
      return ms === Number(ticks / 10000n - 11644473600000n) && table.encode({ t: ms }).equals(whole);
    }),
    { numRuns: 500 },
  );
  const unixEpoch = Buffer.alloc(8);
  unixEpoch.writeBigUInt64LE(116444736000000000n);
  t.is(table.decode(unixEpoch).t, 0, '1970-01-01 is 116444736000000000 ticks');
});

test('guid: mixed-endian text form, upper case (the EFI System Partition type GUID)', (t) => {
  const table = new BinaryTable('guid', placed({ g: { offset: 0, type: 'guid' } }), fail);
  const bytes = Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex');
  t.is(table.decode(bytes).g, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
  t.deepEqual(table.encode({ g: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b' }), bytes);
  t.throws(() => table.encode({ g: 'C12A7328F81F11D2BA4B00A0C93EC93B' }), { code: 'EINTERNAL', message: /field g \(guid\)/ });
});

test('a truncated buffer, a negative or fractional offset: the bounds failure, naming the structure given to decode', (t) => {
  const table = new BinaryTable('record', placed({ a: { offset: 0, type: 'u32le' }, b: { offset: 8, type: 'u16be' } }), fail);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: -3, max: 40 }), (length, at) => {
      const buf = Buffer.alloc(length);
      try {
        table.decode(buf, at, 'the record');
        return at >= 0 && at + 10 <= length;
      } catch (e) {
        const f = (e as Failed).failure;
        return (
          !(at >= 0 && at + 10 <= length) &&
          f.kind === 'bounds' &&
          f.structure === 'the record' &&
          f.at === at &&
          f.needed === 10 &&
          f.length === length
        );
      }
    }),
    RUNS,
  );
  t.throws(() => table.decode(Buffer.alloc(20), 1.5), { instanceOf: Failed });
  // A single field is checked against its own end: `a` fits in 4 bytes, `b` needs 10.
  t.is(table.get(Buffer.from([1, 0, 0, 0]), 0, 'a'), 1);
  t.throws(() => table.get(Buffer.alloc(9), 0, 'b'), { instanceOf: Failed });
});

test('encode refuses what a field cannot hold (EINTERNAL naming the table and field) and writes nothing', (t) => {
  const cases: Array<[FixedType, unknown]> = [
    ['u8', 256],
    ['u8', -1],
    ['i8', 128],
    ['u16le', 0x10000],
    ['u16be', 1.5],
    ['u32le', 2 ** 32],
    ['u32be', -1],
    ['u48le', 2 ** 48],
    ['u64le', 2 ** 53],
    ['u64be', -1],
    ['i64le', -(2 ** 53)],
    ['bigu64le', -1n],
    ['bigu64be', 2n ** 64n],
    ['bigu64le', 5],
    ['filetime', -11644473600001],
    ['filetime', 0.5],
    ['u32le', '7'],
    ['guid', 'not a guid'],
  ];
  for (const [type, value] of cases) {
    const table = new BinaryTable('tbl', placed({ x: { offset: 0, type } }), fail);
    const buf = Buffer.alloc(table.size, 0x5a);
    t.throws(
      () => table.encode({ x: value } as never, buf),
      { code: 'EINTERNAL', message: new RegExp(`^tbl: field x \\(${type}\\)`) },
      `${type} ${String(value)}`,
    );
    t.true(
      buf.every((b) => b === 0x5a),
      `${type} ${String(value)}: nothing written`,
    );
  }
  const text = new BinaryTable(
    'tbl',
    sequenced({ s: { type: 'ascii', size: 4 }, w: { type: 'utf16le', size: 4 }, b: { type: 'bytes', size: 2 } }),
    fail,
  );
  const ok = { s: 'abcd', w: 'xy', b: Buffer.from([1, 2]) };
  t.notThrows(() => text.encode(ok));
  for (const bad of [{ s: 'abcde' }, { s: 'a\0' }, { s: '\u0100' }, { w: 'xyz' }, { w: '\0' }, { b: Buffer.alloc(3) }, { b: [1, 2] }]) {
    t.throws(() => text.encode({ ...ok, ...bad } as never), { code: 'EINTERNAL' }, JSON.stringify(bad));
  }
  t.throws(() => text.encode(ok, Buffer.alloc(text.size - 1)), { code: 'EINTERNAL', message: /do not fit/ });
});

test('tables refuse fields that overlap the record end or have no size', (t) => {
  t.throws(() => new BinaryTable('t', placed({ a: { offset: 2, type: 'u32le' } }, 4), fail), { message: /ends past/ });
  t.throws(() => new BinaryTable('t', placed({ a: { offset: 0, type: 'bytes', size: 0 } }), fail), { message: /bad offset or size/ });
  t.throws(() => new BinaryTable('t', placed({ 'a-b': { offset: 0, type: 'u8' } }), fail), { message: /not an identifier/ });
  t.is(new BinaryTable('t', placed({ a: { offset: 0, type: 'u8' } }, 16), fail).size, 16);
});
