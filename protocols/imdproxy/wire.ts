// Every IMDPROXY message, declared once as a table of fields in wire order (ImDisk's
// inc/imdproxy.h, the same header Arsenal Image Mounter ships as phdskmnt/inc/imdproxy.h) and used
// both to parse and to build. Fields are little-endian u64 or raw 16-byte arrays; no magic, no
// padding. Variable parts (READ data, WRITE data, CONNECT text, UNMAP ranges) follow the fixed part.

type FieldType = 'u64' | 'b16';
type FieldValue<T extends FieldType> = T extends 'u64' ? bigint : Buffer;
type Values<F extends Record<string, FieldType>> = { [K in keyof F]: FieldValue<F[K]> };

const widths: Record<FieldType, number> = { u64: 8, b16: 16 };

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
    const out = {} as Record<keyof F, bigint | Buffer>;
    for (const f of this.table) {
      const o = at + f.offset;
      out[f.name] = f.type === 'u64' ? buf.readBigUInt64LE(o) : Buffer.from(buf.subarray(o, o + 16));
    }
    return out as Values<F>;
  }

  /** Writes the fields into `buf` at `at` (a fresh buffer of `size` bytes by default). */
  write(values: Values<F>, buf: Buffer = Buffer.alloc(this.size), at = 0): Buffer {
    for (const f of this.table) {
      const o = at + f.offset;
      const v = values[f.name];
      if (f.type === 'u64') buf.writeBigUInt64LE(v as bigint, o);
      else (v as Buffer).copy(buf, o, 0, 16);
    }
    return buf;
  }
}

/** IMDPROXY_REQ: the first u64 of every request. */
export const RequestCode = { NULL: 0n, INFO: 1n, READ: 2n, WRITE: 3n, CONNECT: 4n, CLOSE: 5n, UNMAP: 6n, ZERO: 7n, SCSI: 8n, SHARED: 9n } as const;

/** IMDPROXY_FLAG_* in the INFO response. */
export const InfoFlag = { RO: 0x01n, SUPPORTS_UNMAP: 0x02n, SUPPORTS_ZERO: 0x04n, SUPPORTS_SCSI: 0x08n, SUPPORTS_SHARED: 0x10n, KEEP_OPEN: 0x20n } as const;

/**
 * errorno values the server sends. The driver only tests for non-zero; these are the numbers
 * ImDisk's devio uses (identical in Linux and the Windows C runtime).
 */
export const Errno = { EIO: 5n, EBADF: 9n, ENODEV: 19n, EINVAL: 22n } as const;

/** Every request starts with its code; the rest of its fixed part is read once the code is known. */
export const Code = new Layout('IMDPROXY_REQ (request_code)', { code: 'u64' });

// --- Requests, after the code (the server reads the code first) ---
/** IMDPROXY_READ_REQ / IMDPROXY_WRITE_REQ without request_code; WRITE is followed by `length` bytes. */
export const RangeRequest = new Layout('IMDPROXY_READ_REQ / IMDPROXY_WRITE_REQ', { offset: 'u64', length: 'u64' });
/** IMDPROXY_CONNECT_REQ without request_code; followed by `length` bytes of UTF-16LE text. */
export const ConnectRequest = new Layout('IMDPROXY_CONNECT_REQ', { flags: 'u64', length: 'u64' });
/** IMDPROXY_UNMAP_REQ / IMDPROXY_ZERO_REQ without request_code; followed by `length` bytes of ranges. */
export const RangesRequest = new Layout('IMDPROXY_UNMAP_REQ / IMDPROXY_ZERO_REQ', { length: 'u64' });
/** One range of an UNMAP / ZERO request (DEVICE_DATA_SET_RANGE: i64 start, u64 length). */
export const DataSetRange = new Layout('DEVICE_DATA_SET_RANGE', { start: 'u64', length: 'u64' });
/** IMDPROXY_SCSI_REQ without request_code; followed by `requestLength` bytes. */
export const ScsiRequest = new Layout('IMDPROXY_SCSI_REQ', { cdb: 'b16', requestLength: 'u64', maxResponseLength: 'u64' });
/** IMDPROXY_SHARED_REQ without request_code. */
export const SharedRequest = new Layout('IMDPROXY_SHARED_REQ', {
  operationCode: 'u64',
  reserveScope: 'u64',
  reserveType: 'u64',
  existingReservationKey: 'u64',
  currentChannelKey: 'u64',
  operationChannelKey: 'u64',
});

// --- Responses ---
export const InfoResponse = new Layout('IMDPROXY_INFO_RESP', { fileSize: 'u64', reqAlignment: 'u64', flags: 'u64' });
/** IMDPROXY_READ_RESP / IMDPROXY_WRITE_RESP / IMDPROXY_SCSI_RESP; READ (and SCSI) data follow. */
export const LengthResponse = new Layout('IMDPROXY_READ_RESP / IMDPROXY_WRITE_RESP / IMDPROXY_SCSI_RESP', { errorno: 'u64', length: 'u64' });
export const ConnectResponse = new Layout('IMDPROXY_CONNECT_RESP', { errorCode: 'u64', objectPtr: 'u64' });
/** IMDPROXY_UNMAP_RESP / IMDPROXY_ZERO_RESP; also the lone u64 devio answers an unknown code with. */
export const ErrnoResponse = new Layout('IMDPROXY_UNMAP_RESP / IMDPROXY_ZERO_RESP', { errorno: 'u64' });
export const SharedResponse = new Layout('IMDPROXY_SHARED_RESP', {
  errorno: 'u64',
  uniqueId: 'b16',
  channelKey: 'u64',
  reservationKey: 'u64',
  reservationScope: 'u64',
  reservationType: 'u64',
  length: 'u64',
});
