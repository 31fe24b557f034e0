// Binary layout tables: a record's fields declared once — at explicit offsets (disk structures)
// or in sequence with no padding (wire messages) — compiled into one bounds-checked decoder and
// one encoder shared by readers and writers. What a table cannot decode is reported through the
// `fail` hook its domain gives it, so each domain keeps its own error class.
import { DiskarcError } from '../errors.js';
import { compile, type Compiled, type ResolvedField } from './compile.js';
import { fieldWidth, type FieldType, type PlacedField, type SequencedField, type Values } from './field-types.js';

export type { FieldType, FixedType, PlacedField, SequencedField, SizedType, ValueOf, Values } from './field-types.js';

/** Why a decode failed; `structure` is the name given to decode (or the table's). */
export type DecodeFailure =
  | { kind: 'bounds'; structure: string; at: number; needed: number; length: number }
  | { kind: 'range'; structure: string; field: string; hex: string };

export type FailureHandler = (failure: DecodeFailure) => Error;

/** A table's fields resolved to offsets and widths; `V` is the record they decode to. */
export interface TableLayout<V> {
  readonly fields: readonly ResolvedField[];
  readonly size: number;
  /** Carries the record type only. */
  readonly record?: V;
}

/** Fields at the offsets they declare (disk structures); the record ends after the last one unless `size` says more (reserved bytes). */
export function placed<const F extends Readonly<Record<string, PlacedField>>>(fields: F, size?: number): TableLayout<Values<F>> {
  const list = Object.entries(fields).map(([name, f]) => ({
    name,
    offset: f.offset,
    type: f.type,
    size: fieldWidth(f.type, 'size' in f ? f.size : undefined),
  }));
  return { fields: list, size: size ?? Math.max(0, ...list.map((f) => f.offset + f.size)) };
}

/** Fields in declaration order with no padding (wire messages). */
export function sequenced<const F extends Readonly<Record<string, SequencedField>>>(fields: F): TableLayout<Values<F>> {
  let offset = 0;
  const list = Object.entries(fields).map(([name, f]) => {
    const type = typeof f === 'string' ? f : f.type;
    const field = { name, offset, type, size: fieldWidth(type, typeof f === 'string' ? undefined : f.size) };
    offset += field.size;
    return field;
  });
  return { fields: list, size: offset };
}

/** The field as the table resolved it: where it starts, its type and width. */
export interface FieldPlacement {
  readonly offset: number;
  readonly type: FieldType;
  readonly size: number;
}

export class BinaryTable<V extends Record<string, unknown>> {
  readonly size: number;
  readonly fields: { readonly [K in keyof V]: FieldPlacement };
  private readonly compiled: Compiled;

  /** `fail` builds the error a decode failure throws (a DiskarcError for the archive and the filesystems). */
  constructor(
    readonly name: string,
    layout: TableLayout<V>,
    fail: FailureHandler,
  ) {
    const { fields, size } = layout;
    for (const f of fields) {
      if (!Number.isSafeInteger(f.offset) || f.offset < 0 || !Number.isSafeInteger(f.size) || f.size <= 0)
        throw new DiskarcError('EINTERNAL', `${name}: field ${f.name} has a bad offset or size`);
      if (f.offset + f.size > size) throw new DiskarcError('EINTERNAL', `${name}: field ${f.name} ends past the record's ${size} bytes`);
    }
    this.size = size;
    this.fields = Object.fromEntries(
      fields.map((f) => [f.name, { offset: f.offset, type: f.type, size: f.size }]),
    ) as BinaryTable<V>['fields'];
    this.compiled = compile(fields, size, {
      outOfBounds: (structure, at, needed, length) => {
        throw fail({ kind: 'bounds', structure, at, needed, length });
      },
      outOfRange: (structure, field, hi, lo) => {
        throw fail({ kind: 'range', structure, field, hex: `0x${(hi >>> 0).toString(16)}${lo.toString(16).padStart(8, '0')}` });
      },
      badValue: (field, type, value) => {
        throw new DiskarcError(
          'EINTERNAL',
          `${name}: field ${field} (${type}) cannot hold ` +
            `${typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value))}`,
        );
      },
      badTarget: (at, length) => {
        throw new DiskarcError('EINTERNAL', `${name}: ${size} bytes at ${at} do not fit in a ${length}-byte buffer`);
      },
    });
  }

  /** Every field of the record at `at`; `what` names it in errors ("GPT header at LBA 1"). */
  decode(buf: Buffer, at = 0, what = this.name): V {
    return this.compiled.decode(buf, at, what) as V;
  }

  /** Writes every field into `buf` at `at` (a fresh zeroed buffer of `size` bytes by default); other bytes are left as they are. */
  encode(values: V, buf: Buffer = Buffer.alloc(this.size), at = 0): Buffer {
    return this.compiled.encode(values, buf, at);
  }

  /** One field of the record at `at`, checked against that field's end only. */
  get<K extends keyof V & string>(buf: Buffer, at: number, key: K, what = this.name): V[K] {
    return this.compiled.read[key](buf, at, what) as V[K];
  }
}
