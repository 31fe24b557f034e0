// Update-sequence fixups on synthetic 1 KiB and 4 KiB records: restore, torn-write and header checks.
import test from 'ava';
import { applyFixups } from '../../../fs/ntfs/fixups.js';
import { isDiskarcError } from '../../../src/errors.js';

function record(size: number, sig = 'FILE'): { protectedBuf: Buffer; original: Buffer } {
  const original = Buffer.alloc(size);
  for (let i = 0; i < size; i++) original[i] = (i * 31 + 7) & 0xff;
  original.write(sig, 0, 'latin1');
  const strides = size / 512;
  original.writeUInt16LE(48, 4);
  original.writeUInt16LE(strides + 1, 6);
  const protectedBuf = Buffer.from(original);
  protectedBuf.writeUInt16LE(0x1234, 48);
  for (let i = 1; i <= strides; i++) {
    protectedBuf.writeUInt16LE(original.readUInt16LE(i * 512 - 2), 48 + 2 * i);
    protectedBuf.writeUInt16LE(0x1234, i * 512 - 2);
  }
  // The array itself lives in the record: the original must carry the same header bytes.
  protectedBuf.copy(original, 48, 48, 48 + 2 * (strides + 1));
  return { protectedBuf, original };
}

for (const size of [1024, 4096]) {
  test(`restores the sector tails of a ${size}-byte record`, (t) => {
    const { protectedBuf, original } = record(size);
    applyFixups(protectedBuf, 'FILE', 'rec');
    t.true(protectedBuf.equals(original));
  });
}

test('a torn write (tail ≠ check value) is EFS naming the record', (t) => {
  const { protectedBuf } = record(1024);
  protectedBuf.writeUInt16LE(0x9999, 1022);
  const e = t.throws(() => applyFixups(protectedBuf, 'FILE', 'MFT record 42'));
  t.true(isDiskarcError(e, 'EFS'));
  t.regex(e!.message, /MFT record 42.*sector 1/);
});

test('wrong signature, BAAD and bad array geometry are EFS', (t) => {
  const a = record(1024, 'INDX').protectedBuf;
  t.regex(t.throws(() => applyFixups(a, 'FILE', 'x'))!.message, /signature/);
  const b = record(1024, 'BAAD').protectedBuf;
  t.regex(t.throws(() => applyFixups(b, 'FILE', 'x'))!.message, /BAAD/);
  const c = record(1024).protectedBuf;
  c.writeUInt16LE(7, 6);
  t.true(
    isDiskarcError(
      t.throws(() => applyFixups(c, 'FILE', 'x')),
      'EFS',
    ),
  );
  const d = record(1024).protectedBuf;
  d.writeUInt16LE(509, 4);
  t.true(
    isDiskarcError(
      t.throws(() => applyFixups(d, 'FILE', 'x')),
      'EFS',
    ),
  );
});
