// Every fixed-size NBD message, declared once as a table of big-endian fields (in wire order,
// naming the doc/proto.md section it comes from) on the shared binary codec (src/binary), and
// used both to parse and to build messages. Variable parts (names, payloads) follow the fixed
// part and are handled by the callers.
import { MessageLayout } from '../wire/message-layout.js';

// --- Handshake ("Newstyle negotiation", "Fixed newstyle negotiation") ---
export const Greeting = new MessageLayout('Newstyle negotiation: server greeting', {
  magic: 'bigu64be',
  ihaveopt: 'bigu64be',
  handshakeFlags: 'u16be',
});
export const ClientFlags = new MessageLayout('Newstyle negotiation: client flags', { flags: 'u32be' });
export const OptionHeader = new MessageLayout('Newstyle negotiation: option', { magic: 'bigu64be', option: 'u32be', length: 'u32be' });
export const OptionReplyHeader = new MessageLayout('Fixed newstyle negotiation: option reply', {
  magic: 'bigu64be',
  option: 'u32be',
  type: 'u32be',
  length: 'u32be',
});
/** Reply to NBD_OPT_EXPORT_NAME, followed by 124 zero bytes unless NO_ZEROES was negotiated. */
export const ExportNameReply = new MessageLayout('Option types: NBD_OPT_EXPORT_NAME reply', { size: 'bigu64be', flags: 'u16be' });
export const EXPORT_NAME_PADDING = 124;
/** NBD_OPT_INFO / NBD_OPT_GO data starts with the name length; then name, u16 count, count × u16. */
export const NameLength = new MessageLayout('Option types: NBD_OPT_INFO/GO, LIST/SET_META_CONTEXT name length', { length: 'u32be' });
export const InfoRequestCount = new MessageLayout('Option types: NBD_OPT_INFO/GO information request count', { count: 'u16be' });
export const QueryCount = new MessageLayout('Option types: NBD_OPT_LIST/SET_META_CONTEXT query count', { count: 'u32be' });
export const InfoExport = new MessageLayout('Option reply types: NBD_INFO_EXPORT', { type: 'u16be', size: 'bigu64be', flags: 'u16be' });
export const InfoBlockSize = new MessageLayout('Option reply types: NBD_INFO_BLOCK_SIZE', {
  type: 'u16be',
  minimum: 'u32be',
  preferred: 'u32be',
  maximum: 'u32be',
});
/** NBD_INFO_NAME / NBD_INFO_DESCRIPTION: the type, then the string. */
export const InfoString = new MessageLayout('Option reply types: NBD_INFO_NAME / NBD_INFO_DESCRIPTION', { type: 'u16be' });
/** NBD_REP_META_CONTEXT: context id, then the context name. */
export const MetaContextReply = new MessageLayout('Option reply types: NBD_REP_META_CONTEXT', { contextId: 'u32be' });

// --- Transmission ("Request message", "Simple reply message", "Structured reply chunk message") ---
export const Request = new MessageLayout('Request message', {
  magic: 'u32be',
  flags: 'u16be',
  type: 'u16be',
  cookie: 'bigu64be',
  offset: 'bigu64be',
  length: 'u32be',
});
export const ExtendedRequest = new MessageLayout('Request message (extended headers)', {
  magic: 'u32be',
  flags: 'u16be',
  type: 'u16be',
  cookie: 'bigu64be',
  offset: 'bigu64be',
  length: 'bigu64be',
});
export const SimpleReply = new MessageLayout('Simple reply message', { magic: 'u32be', error: 'u32be', cookie: 'bigu64be' });
export const ChunkHeader = new MessageLayout('Structured reply chunk message', {
  magic: 'u32be',
  flags: 'u16be',
  type: 'u16be',
  cookie: 'bigu64be',
  length: 'u32be',
});
export const ExtendedChunkHeader = new MessageLayout('Structured reply chunk message (extended headers)', {
  magic: 'u32be',
  flags: 'u16be',
  type: 'u16be',
  cookie: 'bigu64be',
  offset: 'bigu64be',
  length: 'bigu64be',
});
export const OffsetDataPrefix = new MessageLayout('Structured reply types: NBD_REPLY_TYPE_OFFSET_DATA', { offset: 'bigu64be' });
export const OffsetHole = new MessageLayout('Structured reply types: NBD_REPLY_TYPE_OFFSET_HOLE', { offset: 'bigu64be', size: 'u32be' });
export const BlockStatusPrefix = new MessageLayout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS', { contextId: 'u32be' });
export const BlockDescriptor = new MessageLayout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS descriptor', {
  length: 'u32be',
  flags: 'u32be',
});
export const BlockStatusExtPrefix = new MessageLayout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS_EXT', {
  contextId: 'u32be',
  count: 'u32be',
});
export const BlockDescriptorExt = new MessageLayout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS_EXT descriptor', {
  length: 'bigu64be',
  flags: 'bigu64be',
});
export const ErrorChunkPrefix = new MessageLayout('Structured reply types: NBD_REPLY_TYPE_ERROR', {
  error: 'u32be',
  messageLength: 'u16be',
});
