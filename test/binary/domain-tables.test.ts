// Every layout table of the four domains on the binary codec, through each domain's own call
// sites: a record cut short (or a 64-bit field beyond 2^53) fails with that domain's error —
// EFS for the NTFS and partition structures, ECORRUPT for the archive's records, TruncatedError
// (a message cut off) for NBD — and every table's encode gives back what its decode read.
import test from 'ava';
import fc from 'fast-check';
import { isDiskarcError } from '../../src/errors.js';
import type { BinaryTable } from '../../src/binary/table.js';
import * as nbd from '../../protocols/nbd/wire.js';
import * as imdproxy from '../../protocols/imdproxy/wire.js';
import { MessageLayout } from '../../protocols/wire/message-layout.js';
import { TruncatedError } from '../../protocols/nbd/socket-reader.js';
import { fileHeader, hashRecord, mapEntry, mapIndexRecord, slabHeader } from '../../src/archive/layout.js';
import { decode as ntfsDecode } from '../../fs/ntfs/layout.js';
import { AttributeListEntryLayout } from '../../fs/ntfs/attribute-list.js';
import { AttributeHeaderLayout, NonResidentLayout, ResidentLayout } from '../../fs/ntfs/attribute.js';
import { BootSectorLayout } from '../../fs/ntfs/boot-sector.js';
import { IndexEntryLayout, IndexNodeHeaderLayout, IndexRecordLayout, IndexRootLayout } from '../../fs/ntfs/dir-index.js';
import { FileNameLayout, StandardInformationLayout } from '../../fs/ntfs/file-name.js';
import { MultiSectorHeaderLayout } from '../../fs/ntfs/fixups.js';
import { MftRecordLayout } from '../../fs/ntfs/mft-record.js';
import { LinkReparseLayout, ReparseHeaderLayout, WofReparseLayout } from '../../fs/ntfs/reparse.js';
import { decode as partitionDecode } from '../../fs/partitions/fields.js';
import { gptEntryLayout, gptHeaderLayout } from '../../fs/partitions/gpt.js';
import { mbrEntryLayout, mbrSectorLayout } from '../../fs/partitions/mbr.js';

type AnyTable = BinaryTable<Record<string, unknown>>;
interface Domain {
  tables: Record<string, unknown>;
  /** Decodes through the domain's call site. */
  decode(table: AnyTable, buf: Buffer, at: number): Record<string, unknown>;
  /** True when `e` is the domain's error for a record cut short. */
  truncated(e: unknown, table: AnyTable, got: number): boolean;
}

const efs = (pattern: RegExp) => (e: unknown) => isDiskarcError(e) && e.code === 'EFS' && pattern.test(e.message);
const domains: Record<string, Domain> = {
  ntfs: {
    tables: {
      AttributeListEntryLayout,
      AttributeHeaderLayout,
      ResidentLayout,
      NonResidentLayout,
      BootSectorLayout,
      IndexRootLayout,
      IndexRecordLayout,
      IndexNodeHeaderLayout,
      IndexEntryLayout,
      FileNameLayout,
      StandardInformationLayout,
      MultiSectorHeaderLayout,
      MftRecordLayout,
      ReparseHeaderLayout,
      LinkReparseLayout,
      WofReparseLayout,
    },
    decode: (table, buf, at) => ntfsDecode(buf, table, at, 'the structure'),
    truncated: (e, table, got) =>
      efs(new RegExp(`^the structure is corrupt: needs bytes 0\\.\\.${table.size} of a ${got}-byte structure$`))(e),
  },
  partitions: {
    tables: { gptHeaderLayout, gptEntryLayout, mbrSectorLayout, mbrEntryLayout },
    decode: (table, buf, at) => partitionDecode(buf, table, at, 'the structure'),
    truncated: (e, table, got) => efs(new RegExp(`^the structure is truncated: needs ${table.size} bytes at 0, only ${got} available$`))(e),
  },
  archive: {
    tables: { fileHeader, slabHeader, hashRecord, mapEntry, mapIndexRecord },
    decode: (table, buf, at) => table.decode(buf, at),
    truncated: (e, table, got) =>
      isDiskarcError(e) &&
      e.code === 'ECORRUPT' &&
      e.message === `${table.name} is truncated: needs ${table.size} bytes at 0, only ${got} available`,
  },
  nbd: {
    tables: Object.fromEntries(Object.entries(nbd).filter(([, v]) => v instanceof MessageLayout)),
    decode: (table, buf, at) => (table as unknown as MessageLayout<Record<string, 'u8'>>).read(buf, at),
    truncated: (e, table, got) => e instanceof TruncatedError && e.wanted === table.size && e.got === got,
  },
  imdproxy: {
    tables: Object.fromEntries(Object.entries(imdproxy).filter(([, v]) => v instanceof MessageLayout)),
    decode: (table, buf, at) => (table as unknown as MessageLayout<Record<string, 'u8'>>).read(buf, at),
    truncated: (e, table, got) => e instanceof TruncatedError && e.wanted === table.size && e.got === got,
  },
};

/** `bytes` with every 64-bit safe-number field's top 11 bits cleared, so that it decodes. */
function withinSafeRange(table: AnyTable, bytes: Buffer): Buffer {
  for (const f of Object.values(table.fields)) {
    if (f.type === 'u64le' || f.type === 'i64le') bytes.writeUInt16LE(bytes.readUInt16LE(f.offset + 6) & 0x1f, f.offset + 6);
    if (f.type === 'u64be') bytes.writeUInt16BE(bytes.readUInt16BE(f.offset) & 0x1f, f.offset);
  }
  return bytes;
}

for (const [name, domain] of Object.entries(domains)) {
  const tables = Object.entries(domain.tables) as Array<[string, AnyTable]>;

  test(`${name}: every table cut short at any length fails with the domain's error`, (t) => {
    t.true(tables.length > 0);
    for (const [tableName, table] of tables) {
      for (let got = 0; got < table.size; got++) {
        const error = t.throws(() => domain.decode(table, Buffer.alloc(got), 0), undefined, `${tableName} in ${got} bytes`);
        t.true(domain.truncated(error, table, got), `${tableName} in ${got} bytes: ${String(error)}`);
      }
      t.notThrows(() => domain.decode(table, Buffer.alloc(table.size), 0));
    }
  });

  test(`${name}: every table's encode writes back what its decode read`, (t) => {
    for (const [tableName, table] of tables) {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: table.size, maxLength: table.size }), (raw) => {
          const bytes = withinSafeRange(table, Buffer.from(raw));
          const values = domain.decode(table, bytes, 0);
          t.deepEqual(domain.decode(table, table.encode(values), 0), values, tableName);
          return true;
        }),
        { numRuns: 50 },
      );
    }
  });
}

test('archive: a 64-bit field beyond 2^53 is ECORRUPT naming the record and field, not a RangeError', (t) => {
  const entry = mapEntry.encode({ offset: 0, length: 4096, type: 1, fillByte: 0, slab: 0, slabOffset: 0, chunk: 0 });
  entry.writeBigUInt64LE(2n ** 53n, 8);
  const error = t.throws(() => mapEntry.decode(entry));
  t.true(isDiskarcError(error) && error.code === 'ECORRUPT', String(error));
  t.is(error?.message, 'stream map entry is corrupt: field length (0x20000000000000) exceeds 2^53');
  entry.writeBigUInt64LE(2n ** 53n - 1n, 8);
  t.is(mapEntry.decode(entry).length, Number.MAX_SAFE_INTEGER);
});

test('ntfs: a 64-bit field beyond 2^53 is EFS naming the structure and field', (t) => {
  const value = Buffer.alloc(66);
  value.writeBigUInt64LE(2n ** 60n, 48); // realSize
  const error = t.throws(() => ntfsDecode(value, FileNameLayout, 0, '$FILE_NAME of record 5'));
  t.true(isDiskarcError(error) && error.code === 'EFS', String(error));
  t.is(error?.message, '$FILE_NAME of record 5 is corrupt: field realSize (0x1000000000000000) is out of range');
});

test('nbd: 64-bit fields are bigint end to end (cookies and offsets beyond 2^53)', (t) => {
  const request = { magic: 0x21e41c71, flags: 1, type: 0, cookie: 2n ** 64n - 1n, offset: 2n ** 63n + 5n, length: 2n ** 60n };
  const wire = nbd.ExtendedRequest.write(request);
  t.is(wire.length, 32);
  t.deepEqual(nbd.ExtendedRequest.read(wire), request);
  t.is(wire.readBigUInt64BE(8), request.cookie);
});
