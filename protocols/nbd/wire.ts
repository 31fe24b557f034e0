// Every fixed-size NBD message, declared once as a table of big-endian fields (in wire order,
// naming the doc/proto.md section it comes from) and used both to parse and to build messages.
// Variable parts (names, payloads) follow the fixed part and are handled by the callers.

type FieldType = 'u16' | 'u32' | 'u64';
type FieldValue<T extends FieldType> = T extends 'u64' ? bigint : number;
type Values<F extends Record<string, FieldType>> = { [K in keyof F]: FieldValue<F[K]> };

const widths: Record<FieldType, number> = { u16: 2, u32: 4, u64: 8 };

export class Layout<F extends Record<string, FieldType>> {
  readonly size: number;
  private readonly table: Array<{ name: keyof F; type: FieldType; offset: number }> = [];

  /** Fields are laid out in declaration order with no padding. */
  constructor(readonly section: string, fields: F) {
    let offset = 0;
    for (const [name, type] of Object.entries(fields) as Array<[keyof F, FieldType]>) {
      this.table.push({ name, type, offset });
      offset += widths[type];
    }
    this.size = offset;
  }

  read(buf: Buffer, at = 0): Values<F> {
    const out = {} as Record<keyof F, number | bigint>;
    for (const f of this.table) {
      const o = at + f.offset;
      out[f.name] = f.type === 'u16' ? buf.readUInt16BE(o) : f.type === 'u32' ? buf.readUInt32BE(o) : buf.readBigUInt64BE(o);
    }
    return out as Values<F>;
  }

  /** Writes the fields into `buf` at `at` (a fresh buffer of `size + extra` bytes by default). */
  write(values: Values<F>, buf: Buffer = Buffer.alloc(this.size), at = 0): Buffer {
    for (const f of this.table) {
      const o = at + f.offset;
      const v = values[f.name];
      if (f.type === 'u16') buf.writeUInt16BE(v as number, o);
      else if (f.type === 'u32') buf.writeUInt32BE(v as number, o);
      else buf.writeBigUInt64BE(v as bigint, o);
    }
    return buf;
  }
}

// --- Handshake ("Newstyle negotiation", "Fixed newstyle negotiation") ---
export const Greeting = new Layout('Newstyle negotiation: server greeting', { magic: 'u64', ihaveopt: 'u64', handshakeFlags: 'u16' });
export const ClientFlags = new Layout('Newstyle negotiation: client flags', { flags: 'u32' });
export const OptionHeader = new Layout('Newstyle negotiation: option', { magic: 'u64', option: 'u32', length: 'u32' });
export const OptionReplyHeader = new Layout('Fixed newstyle negotiation: option reply', {
  magic: 'u64',
  option: 'u32',
  type: 'u32',
  length: 'u32',
});
/** Reply to NBD_OPT_EXPORT_NAME, followed by 124 zero bytes unless NO_ZEROES was negotiated. */
export const ExportNameReply = new Layout('Option types: NBD_OPT_EXPORT_NAME reply', { size: 'u64', flags: 'u16' });
export const EXPORT_NAME_PADDING = 124;
/** NBD_OPT_INFO / NBD_OPT_GO data starts with the name length; then name, u16 count, count × u16. */
export const NameLength = new Layout('Option types: NBD_OPT_INFO/GO, LIST/SET_META_CONTEXT name length', { length: 'u32' });
export const InfoRequestCount = new Layout('Option types: NBD_OPT_INFO/GO information request count', { count: 'u16' });
export const QueryCount = new Layout('Option types: NBD_OPT_LIST/SET_META_CONTEXT query count', { count: 'u32' });
export const InfoExport = new Layout('Option reply types: NBD_INFO_EXPORT', { type: 'u16', size: 'u64', flags: 'u16' });
export const InfoBlockSize = new Layout('Option reply types: NBD_INFO_BLOCK_SIZE', {
  type: 'u16',
  minimum: 'u32',
  preferred: 'u32',
  maximum: 'u32',
});
/** NBD_INFO_NAME / NBD_INFO_DESCRIPTION: the type, then the string. */
export const InfoString = new Layout('Option reply types: NBD_INFO_NAME / NBD_INFO_DESCRIPTION', { type: 'u16' });
/** NBD_REP_META_CONTEXT: context id, then the context name. */
export const MetaContextReply = new Layout('Option reply types: NBD_REP_META_CONTEXT', { contextId: 'u32' });

// --- Transmission ("Request message", "Simple reply message", "Structured reply chunk message") ---
export const Request = new Layout('Request message', {
  magic: 'u32',
  flags: 'u16',
  type: 'u16',
  cookie: 'u64',
  offset: 'u64',
  length: 'u32',
});
export const ExtendedRequest = new Layout('Request message (extended headers)', {
  magic: 'u32',
  flags: 'u16',
  type: 'u16',
  cookie: 'u64',
  offset: 'u64',
  length: 'u64',
});
export const SimpleReply = new Layout('Simple reply message', { magic: 'u32', error: 'u32', cookie: 'u64' });
export const ChunkHeader = new Layout('Structured reply chunk message', {
  magic: 'u32',
  flags: 'u16',
  type: 'u16',
  cookie: 'u64',
  length: 'u32',
});
export const ExtendedChunkHeader = new Layout('Structured reply chunk message (extended headers)', {
  magic: 'u32',
  flags: 'u16',
  type: 'u16',
  cookie: 'u64',
  offset: 'u64',
  length: 'u64',
});
export const OffsetDataPrefix = new Layout('Structured reply types: NBD_REPLY_TYPE_OFFSET_DATA', { offset: 'u64' });
export const OffsetHole = new Layout('Structured reply types: NBD_REPLY_TYPE_OFFSET_HOLE', { offset: 'u64', size: 'u32' });
export const BlockStatusPrefix = new Layout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS', { contextId: 'u32' });
export const BlockDescriptor = new Layout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS descriptor', { length: 'u32', flags: 'u32' });
export const BlockStatusExtPrefix = new Layout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS_EXT', { contextId: 'u32', count: 'u32' });
export const BlockDescriptorExt = new Layout('Structured reply types: NBD_REPLY_TYPE_BLOCK_STATUS_EXT descriptor', { length: 'u64', flags: 'u64' });
export const ErrorChunkPrefix = new Layout('Structured reply types: NBD_REPLY_TYPE_ERROR', { error: 'u32', messageLength: 'u16' });
