// Fixed-newstyle option haggling (doc/proto.md "Handshake", "Option types"): greets the client,
// answers options until one of them picks an export (GO or EXPORT_NAME), and reports what was
// negotiated. Bad options get error replies and the connection stays usable; only violations
// that make the byte stream unparseable (bad magic, unknown client flags, absurd lengths) end it.
import type { Logger } from 'pino';
import {
  BASE_ALLOCATION,
  ClientFlag,
  HandshakeFlag,
  IHAVEOPT,
  Info,
  MAX_STRING,
  NBDMAGIC,
  Option,
  OPTION_REPLY_MAGIC,
  OptionReply,
  TransmissionFlag,
} from './constants.js';
import type { NbdExport, NbdExportCatalog } from './exports.js';
import { MIN_BLOCK_SIZE, PREFERRED_BLOCK_SIZE, type NbdLimits } from './limits.js';
import type { SocketReader } from './socket-reader.js';
import {
  ClientFlags,
  EXPORT_NAME_PADDING,
  ExportNameReply,
  Greeting,
  InfoBlockSize,
  InfoExport,
  InfoRequestCount,
  InfoString,
  MetaContextReply,
  NameLength,
  OptionHeader,
  OptionReplyHeader,
  QueryCount,
} from './wire.js';

/** Option data longer than this is treated as an attack and ends the connection. */
const MAX_OPTION_DATA = 64 * 1024;
/** The id we give `base:allocation` in NBD_REP_META_CONTEXT and BLOCK_STATUS chunks. */
export const ALLOCATION_CONTEXT_ID = 1;

/** The client broke the protocol so that the stream cannot be parsed further. */
export class ProtocolViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

export interface Negotiated {
  export: NbdExport;
  structuredReplies: boolean;
  /** 32-byte requests and replies (NBD_OPT_EXTENDED_HEADERS); implies structured replies. */
  extendedHeaders: boolean;
  /** Context id for `base:allocation` when the client selected it for this export. */
  allocationContext: number | undefined;
  transmissionFlags: number;
}

export interface HandshakeIo {
  reader: SocketReader;
  write(parts: Buffer[]): void;
  log: Logger;
  limits: NbdLimits;
  catalog: NbdExportCatalog;
}

/** Transmission flags for an export; SEND_DF only once structured replies are on (proto.md). */
export function transmissionFlags(structuredReplies: boolean): number {
  const F = TransmissionFlag;
  return F.HAS_FLAGS | F.READ_ONLY | F.SEND_FLUSH | F.CAN_MULTI_CONN | F.SEND_CACHE | (structuredReplies ? F.SEND_DF : 0);
}

/** Runs the handshake; resolves undefined when the client aborts or leaves without choosing an export. */
export async function negotiate(io: HandshakeIo): Promise<Negotiated | undefined> {
  const { reader, log, catalog } = io;
  io.write([
    Greeting.write({ magic: NBDMAGIC, ihaveopt: IHAVEOPT, handshakeFlags: HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES }),
  ]);
  const { flags } = ClientFlags.read(await reader.read(ClientFlags.size));
  if ((flags & ~(ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES)) !== 0) {
    throw new ProtocolViolation(`unknown client flags 0x${flags.toString(16)}`);
  }
  const noZeroes = (flags & ClientFlag.NO_ZEROES) !== 0;

  let structuredReplies = false;
  let extendedHeaders = false;
  // Extended headers take precedence over, and imply, structured replies.
  const chunked = (): boolean => structuredReplies || extendedHeaders;
  let meta: { exportName: string; allocation: boolean } | undefined;

  const reply = (option: number, type: number, data?: Buffer): void => {
    const header = OptionReplyHeader.write({ magic: OPTION_REPLY_MAGIC, option, type, length: data?.length ?? 0 });
    io.write(data && data.length > 0 ? [header, data] : [header]);
  };
  // An export that exists but cannot be opened (corrupt stream map, I/O error) is refused like an
  // unknown one, with the reason, and the connection stays usable.
  const openExport = async (name: string): Promise<NbdExport | string> => {
    try {
      return (await catalog.open(name)) ?? exportNotFound(name);
    } catch (e) {
      log.error({ err: e, export: name }, 'cannot open export');
      return `cannot open export "${name}": ${(e as Error).message}`;
    }
  };
  const replyError = (option: number, type: number, message: string): void => {
    log.debug({ option, reply: type, message }, 'option refused');
    reply(option, type, Buffer.from(message.slice(0, MAX_STRING), 'utf8'));
  };

  for (;;) {
    const header = OptionHeader.read(await reader.read(OptionHeader.size));
    if (header.magic !== IHAVEOPT) throw new ProtocolViolation(`bad option magic 0x${header.magic.toString(16)}`);
    if (header.length > MAX_OPTION_DATA)
      throw new ProtocolViolation(`option ${header.option} carries ${header.length} bytes (limit ${MAX_OPTION_DATA})`);
    const data = await reader.read(header.length);
    const option = header.option;
    log.debug({ option, length: header.length }, 'option');

    switch (option) {
      case Option.EXPORT_NAME: {
        const name = data.toString('utf8');
        const exp = await openExport(name);
        // EXPORT_NAME cannot carry an error: the protocol says to close.
        if (typeof exp === 'string') throw new ProtocolViolation(`NBD_OPT_EXPORT_NAME refused: ${exp}`);
        const tflags = transmissionFlags(chunked());
        const parts = [ExportNameReply.write({ size: BigInt(exp.source.size), flags: tflags })];
        if (!noZeroes) parts.push(Buffer.alloc(EXPORT_NAME_PADDING));
        io.write(parts);
        return {
          export: exp,
          structuredReplies: chunked(),
          extendedHeaders,
          allocationContext: allocationFor(meta, exp, name),
          transmissionFlags: tflags,
        };
      }

      case Option.ABORT:
        reply(option, OptionReply.ACK);
        return undefined;

      case Option.LIST: {
        if (data.length !== 0) {
          replyError(option, OptionReply.ERR_INVALID, 'NBD_OPT_LIST takes no data');
          break;
        }
        for (const e of await catalog.list()) {
          const name = Buffer.from(e.name, 'utf8');
          const desc = Buffer.from(e.description, 'utf8');
          const len = NameLength.write({ length: name.length });
          reply(option, OptionReply.SERVER, Buffer.concat([len, name, desc]));
        }
        reply(option, OptionReply.ACK);
        break;
      }

      case Option.INFO:
      case Option.GO: {
        const parsed = parseInfoRequest(data);
        if (typeof parsed === 'string') {
          replyError(option, OptionReply.ERR_INVALID, parsed);
          break;
        }
        const exp = await openExport(parsed.name);
        if (typeof exp === 'string') {
          replyError(option, OptionReply.ERR_UNKNOWN, exp);
          break;
        }
        const tflags = transmissionFlags(chunked());
        reply(option, OptionReply.INFO, InfoExport.write({ type: Info.EXPORT, size: BigInt(exp.source.size), flags: tflags }));
        // Sent unasked too: clients must ignore info they did not request, and it tells them our limits.
        reply(
          option,
          OptionReply.INFO,
          InfoBlockSize.write({
            type: Info.BLOCK_SIZE,
            minimum: MIN_BLOCK_SIZE,
            preferred: PREFERRED_BLOCK_SIZE,
            maximum: io.limits.maxPayload,
          }),
        );
        if (parsed.requests.includes(Info.NAME) || exp.name !== parsed.name) {
          reply(option, OptionReply.INFO, Buffer.concat([InfoString.write({ type: Info.NAME }), utf8Max(exp.name)]));
        }
        if (exp.description) {
          reply(option, OptionReply.INFO, Buffer.concat([InfoString.write({ type: Info.DESCRIPTION }), utf8Max(exp.description)]));
        }
        reply(option, OptionReply.ACK);
        if (option === Option.GO) {
          return {
            export: exp,
            structuredReplies: chunked(),
            extendedHeaders,
            allocationContext: allocationFor(meta, exp, parsed.name),
            transmissionFlags: tflags,
          };
        }
        break;
      }

      case Option.STRUCTURED_REPLY:
        if (data.length !== 0) replyError(option, OptionReply.ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data');
        else if (structuredReplies) replyError(option, OptionReply.ERR_INVALID, 'structured replies are already negotiated');
        else if (extendedHeaders) replyError(option, OptionReply.ERR_EXT_HEADER_REQD, 'extended headers are already negotiated');
        else {
          structuredReplies = true;
          reply(option, OptionReply.ACK);
        }
        break;

      case Option.EXTENDED_HEADERS:
        if (data.length !== 0) replyError(option, OptionReply.ERR_INVALID, 'NBD_OPT_EXTENDED_HEADERS takes no data');
        else if (extendedHeaders) replyError(option, OptionReply.ERR_INVALID, 'extended headers are already negotiated');
        else {
          extendedHeaders = true;
          reply(option, OptionReply.ACK);
        }
        break;

      case Option.LIST_META_CONTEXT:
      case Option.SET_META_CONTEXT: {
        const isSet = option === Option.SET_META_CONTEXT;
        // SET replaces the selection even when it fails (proto.md).
        if (isSet) meta = undefined;
        if (!chunked()) {
          replyError(option, OptionReply.ERR_INVALID, 'negotiate NBD_OPT_STRUCTURED_REPLY (or EXTENDED_HEADERS) before metadata contexts');
          break;
        }
        const parsed = parseMetaRequest(data);
        if (typeof parsed === 'string') {
          replyError(option, OptionReply.ERR_INVALID, parsed);
          break;
        }
        const exp = await openExport(parsed.name);
        if (typeof exp === 'string') {
          replyError(option, OptionReply.ERR_UNKNOWN, exp);
          break;
        }
        const matches = isSet
          ? parsed.queries.includes(BASE_ALLOCATION)
          : parsed.queries.length === 0 || parsed.queries.some((q) => q === BASE_ALLOCATION || q === 'base:');
        if (matches) {
          const id = isSet ? ALLOCATION_CONTEXT_ID : 0;
          reply(option, OptionReply.META_CONTEXT, Buffer.concat([MetaContextReply.write({ contextId: id }), Buffer.from(BASE_ALLOCATION)]));
        }
        if (isSet) meta = { exportName: parsed.name, allocation: matches };
        reply(option, OptionReply.ACK);
        break;
      }

      case Option.STARTTLS:
        replyError(option, OptionReply.ERR_UNSUP, 'TLS is not supported by this server (serve on loopback or a Unix socket)');
        break;

      default:
        replyError(option, OptionReply.ERR_UNSUP, `option ${option} is not supported`);
    }
  }
}

function allocationFor(
  meta: { exportName: string; allocation: boolean } | undefined,
  exp: NbdExport,
  requestedName: string,
): number | undefined {
  if (!meta?.allocation) return undefined;
  // Block status is only allowed for the export named in the last SET_META_CONTEXT.
  return meta.exportName === requestedName || meta.exportName === exp.name ? ALLOCATION_CONTEXT_ID : undefined;
}

function exportNotFound(name: string): string {
  return name === ''
    ? 'there is no default export here: name one (nbdinfo --list shows them)'
    : `no export named "${name}" (nbdinfo --list shows them)`;
}

function utf8Max(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return b.length <= MAX_STRING ? b : b.subarray(0, MAX_STRING);
}

/** The u32-length-prefixed export name that INFO/GO and the META_CONTEXT options start with,
 * followed by at least `trailer` more bytes. Returns an error text if malformed. */
function readExportName(data: Buffer, trailer: number, what: string): { name: string; at: number } | string {
  if (data.length < NameLength.size + trailer) return `option data too short for a name and ${what}`;
  const { length } = NameLength.read(data);
  if (length > data.length - NameLength.size - trailer) return 'export name length exceeds the option data';
  if (length > MAX_STRING) return `export name longer than ${MAX_STRING} bytes`;
  return { name: data.toString('utf8', NameLength.size, NameLength.size + length), at: NameLength.size + length };
}

/** NBD_OPT_INFO / GO data: u32 name length, name, u16 count, count × u16. Returns an error text if malformed. */
export function parseInfoRequest(data: Buffer): { name: string; requests: number[] } | string {
  const head = readExportName(data, InfoRequestCount.size, 'a request count');
  if (typeof head === 'string') return head;
  let { at } = head;
  const { count } = InfoRequestCount.read(data, at);
  at += InfoRequestCount.size;
  if (data.length !== at + 2 * count) return `option data length does not match ${count} information requests`;
  const requests: number[] = [];
  for (let i = 0; i < count; i++) requests.push(data.readUInt16BE(at + 2 * i));
  return { name: head.name, requests };
}

/** LIST/SET_META_CONTEXT data: u32 name length, name, u32 count, count × (u32 length, query). */
export function parseMetaRequest(data: Buffer): { name: string; queries: string[] } | string {
  const head = readExportName(data, QueryCount.size, 'a query count');
  if (typeof head === 'string') return head;
  const { name } = head;
  let { at } = head;
  const { count } = QueryCount.read(data, at);
  at += QueryCount.size;
  const queries: string[] = [];
  for (let i = 0; i < count; i++) {
    if (at + NameLength.size > data.length) return 'query list runs past the option data';
    const q = NameLength.read(data, at).length;
    at += NameLength.size;
    if (q > data.length - at) return 'query length runs past the option data';
    if (q > MAX_STRING) return `query longer than ${MAX_STRING} bytes`;
    queries.push(data.toString('utf8', at, at + q));
    at += q;
  }
  if (at !== data.length) return 'trailing bytes after the query list';
  return { name, queries };
}
