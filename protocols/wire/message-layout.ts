// The fixed part of a binary wire message (NBD, IMDPROXY): fields in declaration order with no
// padding, on the shared codec (src/binary). Messages are read whole from the socket, so one too
// short to decode was cut off by the peer (TruncatedError, which each protocol handles as such).
import { BinaryTable, sequenced, type DecodeFailure, type SequencedField, type Values } from '../../src/binary/table.js';
import { DiskarcError } from '../../src/errors.js';
import { TruncatedError } from '../nbd/socket-reader.js';

export class MessageLayout<const F extends Readonly<Record<string, SequencedField>>> extends BinaryTable<Values<F>> {
  /** `section`: the spec section the message comes from, named in errors. */
  constructor(section: string, fields: F) {
    super(section, sequenced(fields), messageDecodeError);
  }

  read(buf: Buffer, at = 0): Values<F> {
    return this.decode(buf, at);
  }

  /** Writes the fields into `buf` at `at` (a fresh buffer of `size` bytes by default). */
  write(values: Values<F>, buf: Buffer = Buffer.alloc(this.size), at = 0): Buffer {
    return this.encode(values, buf, at);
  }
}

// These protocols have no field a decoded number could overflow (64-bit ones are bigint), so any
// failure but a short buffer is a bug.
function messageDecodeError(f: DecodeFailure): Error {
  if (f.kind === 'bounds') return new TruncatedError(f.needed, Math.max(0, Math.min(f.needed, f.length - f.at)));
  return new DiskarcError('EINTERNAL', `${f.structure}: field ${f.field} (${f.hex}) is out of range`);
}
