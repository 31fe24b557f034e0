// Turns a table's resolved field list into straight-line decode, encode and single-field read
// functions (generated once per table): one bounds check, then each field read or written at its
// constant offset, the record built as one object literal of fixed shape — as fast as
// hand-written code on the hot paths (NBD requests, NTFS records, slab headers).
import { DiskarcError } from '../errors.js';
import { fieldWidth, isFixedType, type FieldType } from './field-types.js';
import { FILETIME_MAX_MS, FILETIME_MIN_MS, filetimeToUnixMs, writeFiletime } from './filetime.js';
import { readGuid, writeGuid, isGuidText } from './guid.js';
import { readLatin1, readUtf16, writeLatin1, writeUtf16 } from './strings.js';

export interface ResolvedField {
  readonly name: string;
  readonly offset: number;
  readonly type: FieldType;
  readonly size: number;
}

/** How a compiled table reports what it cannot decode (the table turns these into its domain's errors). */
export interface CompileHooks {
  /** Throws: `needed` bytes at `at` do not lie inside a `length`-byte buffer. */
  outOfBounds(what: string, at: number, needed: number, length: number): never;
  /** Throws: a 64-bit field (`hi`·2^32 + `lo`) is beyond ±2^53. */
  outOfRange(what: string, field: string, hi: number, lo: number): never;
  /** Throws (EINTERNAL): `value` cannot be encoded as the field. */
  badValue(field: string, type: string, value: unknown): never;
  /** Throws (EINTERNAL): the record does not fit the buffer it is encoded into. */
  badTarget(at: number, length: number): never;
}

export interface Compiled {
  decode(buf: Buffer, at: number, what: string): Record<string, unknown>;
  encode(values: Record<string, unknown>, buf: Buffer, at: number): Buffer;
  read: Record<string, (buf: Buffer, at: number, what: string) => unknown>;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

// Byte `o` of the record, and the integers built from bytes (as Node's own Buffer readers do).
const byte = (o: number): string => (o === 0 ? 'b[at]' : `b[at + ${o}]`);
const u16le = (o: number): string => `(${byte(o)} | ${byte(o + 1)} << 8)`;
const u16be = (o: number): string => `(${byte(o)} << 8 | ${byte(o + 1)})`;
const u32le = (o: number): string => `((${byte(o)} | ${byte(o + 1)} << 8 | ${byte(o + 2)} << 16) + ${byte(o + 3)} * 0x1000000)`;
const i32le = (o: number): string => `(${byte(o)} | ${byte(o + 1)} << 8 | ${byte(o + 2)} << 16 | ${byte(o + 3)} << 24)`;
const u32be = (o: number): string => `(${byte(o)} * 0x1000000 + (${byte(o + 1)} << 16 | ${byte(o + 2)} << 8 | ${byte(o + 3)}))`;
const at = (o: number): string => (o === 0 ? 'at' : `at + ${o}`);

/** Statements (before the record literal) and the value expression that decode field `f` as `i`. */
function decodeField(f: ResolvedField, i: number): { pre: string; value: string } {
  const o = f.offset;
  const name = JSON.stringify(f.name);
  // 64-bit safe numbers: the halves first, then the range check, then the value.
  const wide = (hi: string, lo: string, signed: boolean) => ({
    pre:
      `const h${i} = ${hi}, l${i} = ${lo};\n` +
      (signed
        ? `  if (h${i} >= 0x200000 || h${i} < -0x200000 || (h${i} === -0x200000 && l${i} === 0)) hooks.outOfRange(what, ${name}, ` +
          `h${i}, l${i});\n`
        : `  if (h${i} >= 0x200000) hooks.outOfRange(what, ${name}, h${i}, l${i});\n`),
    value: `h${i} * 0x100000000 + l${i}`,
  });
  switch (f.type) {
    case 'u8':
      return { pre: '', value: byte(o) };
    case 'i8':
      return { pre: '', value: `(${byte(o)} << 24 >> 24)` };
    case 'u16le':
      return { pre: '', value: u16le(o) };
    case 'u16be':
      return { pre: '', value: u16be(o) };
    case 'u32le':
      return { pre: '', value: u32le(o) };
    case 'u32be':
      return { pre: '', value: u32be(o) };
    case 'u48le':
      return { pre: '', value: `${u32le(o)} + ${u16le(o + 4)} * 0x100000000` };
    case 'u64le':
      return wide(u32le(o + 4), u32le(o), false);
    case 'u64be':
      return wide(u32be(o), u32be(o + 4), false);
    case 'i64le':
      return wide(i32le(o + 4), u32le(o), true);
    case 'bigu64le':
      return { pre: '', value: `b.readBigUInt64LE(${at(o)})` };
    case 'bigu64be':
      return { pre: '', value: `b.readBigUInt64BE(${at(o)})` };
    case 'filetime':
      return { pre: '', value: `filetimeToUnixMs(${u32le(o + 4)}, ${u32le(o)})` };
    case 'guid':
      return { pre: '', value: `readGuid(b, ${at(o)})` };
    case 'bytes':
      return { pre: '', value: `b.subarray(${at(o)}, ${at(o + f.size)})` };
    case 'ascii':
      return { pre: '', value: `readLatin1(b, ${at(o)}, ${f.size})` };
    case 'utf16le':
      return { pre: '', value: `readUtf16(b, ${at(o)}, ${f.size})` };
  }
}

/** Statements that check `x` (the value of field `f`) and write it. */
function encodeField(f: ResolvedField): string {
  const o = f.offset;
  const name = JSON.stringify(f.name);
  const label = JSON.stringify(isFixedType(f.type) ? f.type : `${f.type}(${f.size})`);
  const bad = `hooks.badValue(${name}, ${label}, x)`;
  const int = (min: number, max: number) => `if (!(Number.isInteger(x) && x >= ${min} && x <= ${max})) ${bad};`;
  const bytes = (first: number, count: number, v: string, bigEndian = false) =>
    Array.from(
      { length: count },
      (_, k) => `${byte(first + k)} = ${v}${(bigEndian ? count - 1 - k : k) === 0 ? '' : ` >>> ${(bigEndian ? count - 1 - k : k) * 8}`};`,
    ).join(' ');
  // Safe numbers wider than 32 bits: split into halves first (hi may be negative for i64le).
  const halves = 'lo = x % 0x100000000; if (lo < 0) lo += 0x100000000; hi = (x - lo) / 0x100000000;';
  switch (f.type) {
    case 'u8':
      return `${int(0, 0xff)} ${byte(o)} = x;`;
    case 'i8':
      return `${int(-0x80, 0x7f)} ${byte(o)} = x;`;
    case 'u16le':
      return `${int(0, 0xffff)} ${bytes(o, 2, 'x')}`;
    case 'u16be':
      return `${int(0, 0xffff)} ${bytes(o, 2, 'x', true)}`;
    case 'u32le':
      return `${int(0, 0xffffffff)} ${bytes(o, 4, 'x')}`;
    case 'u32be':
      return `${int(0, 0xffffffff)} ${bytes(o, 4, 'x', true)}`;
    case 'u48le':
      return `${int(0, 2 ** 48 - 1)} ${halves} ${bytes(o, 4, 'lo')} ${bytes(o + 4, 2, 'hi')}`;
    case 'u64le':
      return `${int(0, Number.MAX_SAFE_INTEGER)} ${halves} ${bytes(o, 4, 'lo')} ${bytes(o + 4, 4, 'hi')}`;
    case 'u64be':
      return `${int(0, Number.MAX_SAFE_INTEGER)} ${halves} ${bytes(o, 4, 'hi', true)} ${bytes(o + 4, 4, 'lo', true)}`;
    case 'i64le':
      return `${int(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)} ${halves} ${bytes(o, 4, 'lo')} ${bytes(o + 4, 4, 'hi')}`;
    case 'bigu64le':
      return `if (typeof x !== 'bigint' || x < 0n || x > 0xffffffffffffffffn) ${bad}; b.writeBigUInt64LE(x, ${at(o)});`;
    case 'bigu64be':
      return `if (typeof x !== 'bigint' || x < 0n || x > 0xffffffffffffffffn) ${bad}; b.writeBigUInt64BE(x, ${at(o)});`;
    case 'filetime':
      return `${int(FILETIME_MIN_MS, FILETIME_MAX_MS)} writeFiletime(x, b, ${at(o)});`;
    case 'guid':
      return `if (!isGuidText(x)) ${bad}; writeGuid(x, b, ${at(o)});`;
    case 'bytes':
      return `if (!(x instanceof Uint8Array && x.length === ${f.size})) ${bad}; b.set(x, ${at(o)});`;
    case 'ascii':
      return `if (!writeLatin1(x, b, ${at(o)}, ${f.size})) ${bad};`;
    case 'utf16le':
      return `if (!writeUtf16(x, b, ${at(o)}, ${f.size})) ${bad};`;
  }
}

// `at` must be a whole, non-negative offset with `end` bytes after it inside the buffer.
const inside = (end: number): string => `Number.isSafeInteger(at) && at >= 0 && at <= b.length - ${end}`;

export function compile(fields: readonly ResolvedField[], size: number, hooks: CompileHooks): Compiled {
  for (const f of fields)
    if (!IDENTIFIER.test(f.name)) throw new DiskarcError('EINTERNAL', `field name ${JSON.stringify(f.name)} is not an identifier`);
  const decoded = fields.map(decodeField);
  const decodeBody =
    `if (!(${inside(size)})) hooks.outOfBounds(what, at, ${size}, b.length);\n` +
    decoded.map((d) => (d.pre ? `  ${d.pre}` : '')).join('') +
    `  return { ${fields.map((f, i) => `${f.name}: ${decoded[i].value}`).join(', ')} };`;
  const encodeBody =
    `if (!(${inside(size)})) hooks.badTarget(at, b.length);\n  let x, lo, hi;\n` +
    fields.map((f) => `  x = v.${f.name}; ${encodeField(f)}\n`).join('') +
    '  return b;';
  const readBodies = fields.map((f, i) => {
    const end = f.offset + fieldWidth(f.type, f.size);
    return (
      `${JSON.stringify(f.name)}: function (b, at, what) {\n    if (!(${inside(end)})) hooks.outOfBounds(what, at, ${end}, ` +
      `b.length);\n    ${decoded[i].pre}    return ${decoded[i].value};\n  }`
    );
  });
  const source =
    `return {\n decode: function (b, at, what) {\n  ${decodeBody}\n },\n` +
    ` encode: function (v, b, at) {\n  ${encodeBody}\n },\n` +
    ` read: {\n  ${readBodies.join(',\n  ')}\n }\n};`;
  const helpers = {
    hooks,
    filetimeToUnixMs,
    writeFiletime,
    readGuid,
    writeGuid,
    isGuidText,
    readLatin1,
    readUtf16,
    writeLatin1,
    writeUtf16,
  };
  return new Function(...Object.keys(helpers), source)(...Object.values(helpers)) as Compiled;
}
