// Every fixed-size NBD message, declared once as a table of big-endian fields (in wire order,
// naming the doc/proto.md section it comes from) on the shared binary codec (src/binary), and
// used both to parse and to build messages. Variable parts (names, payloads) follow the fixed
// part and are handled by the callers.
import { BinaryTable, sequenced, type DecodeFailure, type SequencedField, type Values } from '../../src/binary/table.js';
import { TruncatedError } from './socket-reader.js';
import { DiskarcError } from '../../src/errors.js';

/** A message's fixed part: fields in declaration order with no padding; 64-bit ones are bigint. */
export class Layout<const F extends Readonly<Record<string, SequencedField>>> extends BinaryTable<Values<F>> {
  constructor(section: string, fields: F) {
    super(section, sequenced(fields), truncatedMessage);
  }

  read(buf: Buffer, at = 0): Values<F> {
    return this.decode(buf, at);
  }

  /** Writes the fields into `buf` at `at` (a fresh buffer of `size` bytes by default). */
  write(values: Values<F>, buf: Buffer = Buffer.alloc(this.size), at = 0): Buffer {
    return this.encode(values, buf, at);
  }
}

// Messages are read whole from the socket (SocketReader.read), so a short one is a message the
// peer cut off, handled as such; NBD has no 64-bit field a number must hold (they are bigint).
function truncatedMessage(f: DecodeFailure): Error {
  if (f.kind === 'bounds') return new TruncatedError(f.needed, Math.max(0, Math.min(f.needed, f.length - f.at)));
  return new DiskarcError('EINTERNAL', `${f.structure}: field ${f.field} (${f.hex}) is out of range`);
}

// --- Handshake ("Newstyle negotiation", "Fixed newstyle negotiation") ---
export const Greeting = new Layout('Newstyle negotiation: server greeting', { magic: 'bigu64be', ihaveopt: 'bigu64be', handshakeFlags: 'u16be' });
export const ClientFlags = new Layout('Newstyle negotiation: client flags', { flags: 'u32be' });
export const OptionHeader = new Layout('Newstyle negotiation: option', { magic: 'bigu64be', option: 'u32be', length: 'u32be' });
export const OptionReplyHeader = new Layout('Fixed newstyle negotiation: option reply', {
  magic: 'bigu64be',
  option: 'u32be',
  type: 'u32be',
  length: 'u32be',
});
/** Reply to NBD_OPT_EXPORT_NAME, followed by 124 zero bytes unless NO_ZEROES was negotiated. */
export const ExportNameReply = new Layout('Option types: NBD_OPT_EXPORT_NAME reply', { size: 'bigu64be', flags: 'u16be' });
export const EXPORT_NAME_PADDING = 124;
/** NBD_OPT_INFO / NBD_OPT_GO data starts with the name length; then name, u16 count, count × u16. */
export const NameLength = new Layout('Option types: NBD_OPT_INFO/GO, LIST/SET_META_CONTEXT name length', { length: 'u32be' });
export const InfoRequestCount = new Layout('Option types: NBD_OPT_INFO/GO information request count', { count: 'u16be' });
export const QueryCount = new Layout('Option types: NBD_OPT_LIST/SET_META_CONTEXT query count', { count: 'u32be' });
export const InfoExport = new Layout('Option reply types: NBD_INFO_EXPORT', { type: 'u16be', size: 'bigu64be', flags: 'u16be' });
export const InfoBlockSize = new Layout('Option reply types: NBD_INFO_BLOCK_SIZE', {
  type: 'u16be',
  minimum: 'u32be',
  preferred: 'u32be',
  maximum: 'u32be',
});
/** NBD_INFO_NAME / NBD_INFO_DESCRIPTION: the type, then the string. */
export const InfoString = new Layout('Option reply types: NBD_INFO_NAME / NBD_INFO_DESCRIPTION', { type: 'u16be' });
/** NBD_REP_META_CONTEXT: context id, then the context name. */
export const MetaContextReply = new Layout('Option reply types: NBD_REP_META_CONTEXT', { contextId: 'u32be' });

// --- Transmission ("Request message", "Simple reply message", "Structured reply chunk message") ---
export const Request = new Layout('Request message', {
  magic: 'u32be',
  flags: 'u16be',
  type: 'u16be',
  cookie: 'bigu64be',
  offset: 'bigu64be',
  length: 'u32be',
});
export const ExtendedRequest = new Layout('Request message (extended headers)', {
  magic: 'u32be',
  flags: 'u16be',
  type: 'u16be',
  cookie: 'bigu64be',
  offset: 'bigu64be',
  length: 'bigu64be',
});
export const SimpleReply = new Layout('Simple reply message', { magic: 'u32be', error: 'u32be', cookie: 'bigu64be' });
export const ChunkHeader = new Layout('Structured reply chunk message', {
  magic: 'u32be',
  flags: 'u16be',
  type: 'u16be',
  cookie: 'bigu64be',
  length: 'u32be',
});
export const ExtendedChunkHeader = new Layout('Structured reply chunk message (extended headers)', {
  magic: 'u32be',
  flags: 'u16be',
  type: 'u16be',
  cookie: 'bigu64be',
  offset: 'bigu64be',
  length: 'bigu64be',
});
export const OffsetDataPrefix = new Layout('Structured reply types: NBD_REPLY_TYPE_OFFSET_DATA', { offset: 'bigu64be' });
export const OffsetHole = new Layout('Structured reply types: NBD_REPLY_TYPE_OFFSET_HOLE', { offset: 'bigu64be', size: 'u32be' });
export const BlockStatusPrefix = new Layout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS', { contextId: 'u32be' });
export const BlockDescriptor = new Layout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS descriptor', { length: 'u32be', flags: 'u32be' });
export const BlockStatusExtPrefix = new Layout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS_EXT', { contextId: 'u32be', count: 'u32be' });
export const BlockDescriptorExt = new Layout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS_EXT descriptor', { length: 'bigu64be', flags: 'bigu64be' });
export const ErrorChunkPrefix = new Layout('Structured reply types: NBD_REPLY_TYPE_ERROR', { error: 'u32be', messageLength: 'u16be' });
