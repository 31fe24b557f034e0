// Every IMDPROXY message, declared once as a table of fields in wire order (ImDisk's
// inc/imdproxy.h, the same header Arsenal Image Mounter ships as phdskmnt/inc/imdproxy.h) and used
// both to parse and to build. Fields are little-endian u64 or raw 16-byte arrays; no magic, no
// padding. Variable parts (READ data, WRITE data, CONNECT text, UNMAP ranges) follow the fixed part.
import { MessageLayout } from '../wire/message-layout.js';

/** u64 fields (bigint) and the 16-byte arrays of SCSI/SHARED messages, in the header's names. */
const u64 = 'bigu64le';
const b16 = { type: 'bytes', size: 16 } as const;

/** IMDPROXY_REQ: the first u64 of every request. */
export const RequestCode = {
  NULL: 0n,
  INFO: 1n,
  READ: 2n,
  WRITE: 3n,
  CONNECT: 4n,
  CLOSE: 5n,
  UNMAP: 6n,
  ZERO: 7n,
  SCSI: 8n,
  SHARED: 9n,
} as const;

/** IMDPROXY_FLAG_* in the INFO response. */
export const InfoFlag = {
  RO: 0x01n,
  SUPPORTS_UNMAP: 0x02n,
  SUPPORTS_ZERO: 0x04n,
  SUPPORTS_SCSI: 0x08n,
  SUPPORTS_SHARED: 0x10n,
  KEEP_OPEN: 0x20n,
} as const;

/**
 * errorno values the server sends. The driver only tests for non-zero; these are the numbers
 * ImDisk's devio uses (identical in Linux and the Windows C runtime).
 */
export const Errno = { EIO: 5n, EBADF: 9n, ENODEV: 19n, EINVAL: 22n } as const;

/** Every request starts with its code; the rest of its fixed part is read once the code is known. */
export const Code = new MessageLayout('IMDPROXY_REQ (request_code)', { code: u64 });

// --- Requests, after the code (the server reads the code first) ---
/** IMDPROXY_READ_REQ / IMDPROXY_WRITE_REQ without request_code; WRITE is followed by `length` bytes. */
export const RangeRequest = new MessageLayout('IMDPROXY_READ_REQ / IMDPROXY_WRITE_REQ', { offset: u64, length: u64 });
/** IMDPROXY_CONNECT_REQ without request_code; followed by `length` bytes of UTF-16LE text. */
export const ConnectRequest = new MessageLayout('IMDPROXY_CONNECT_REQ', { flags: u64, length: u64 });
/** IMDPROXY_UNMAP_REQ / IMDPROXY_ZERO_REQ without request_code; followed by `length` bytes of ranges. */
export const RangesRequest = new MessageLayout('IMDPROXY_UNMAP_REQ / IMDPROXY_ZERO_REQ', { length: u64 });
/** One range of an UNMAP / ZERO request (DEVICE_DATA_SET_RANGE: i64 start, u64 length). */
export const DataSetRange = new MessageLayout('DEVICE_DATA_SET_RANGE', { start: u64, length: u64 });
/** IMDPROXY_SCSI_REQ without request_code; followed by `requestLength` bytes. */
export const ScsiRequest = new MessageLayout('IMDPROXY_SCSI_REQ', { cdb: b16, requestLength: u64, maxResponseLength: u64 });
/** IMDPROXY_SHARED_REQ without request_code. */
export const SharedRequest = new MessageLayout('IMDPROXY_SHARED_REQ', {
  operationCode: u64,
  reserveScope: u64,
  reserveType: u64,
  existingReservationKey: u64,
  currentChannelKey: u64,
  operationChannelKey: u64,
});

// --- Responses ---
export const InfoResponse = new MessageLayout('IMDPROXY_INFO_RESP', { fileSize: u64, reqAlignment: u64, flags: u64 });
/** IMDPROXY_READ_RESP / IMDPROXY_WRITE_RESP / IMDPROXY_SCSI_RESP; READ (and SCSI) data follow. */
export const LengthResponse = new MessageLayout('IMDPROXY_READ_RESP / IMDPROXY_WRITE_RESP / IMDPROXY_SCSI_RESP', {
  errorno: u64,
  length: u64,
});
export const ConnectResponse = new MessageLayout('IMDPROXY_CONNECT_RESP', { errorCode: u64, objectPtr: u64 });
/** IMDPROXY_UNMAP_RESP / IMDPROXY_ZERO_RESP; also the lone u64 devio answers an unknown code with. */
export const ErrnoResponse = new MessageLayout('IMDPROXY_UNMAP_RESP / IMDPROXY_ZERO_RESP', { errorno: u64 });
export const SharedResponse = new MessageLayout('IMDPROXY_SHARED_RESP', {
  errorno: u64,
  uniqueId: b16,
  channelKey: u64,
  reservationKey: u64,
  reservationScope: u64,
  reservationType: u64,
  length: u64,
});
