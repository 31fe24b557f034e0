// Tunable bounds of the IMDPROXY server: what one request may ask for or carry, how many reply
// bytes all connections may be producing at once, and how long shutdown waits for a reply.

export interface ProxyLimits {
  /** Largest READ; a longer one is answered EINVAL (length 0) and the session goes on. */
  maxRead: number;
  /** A longer READ's reply is read and sent in pieces of this size, one at a time. */
  readPiece: number;
  /** Largest WRITE (or SCSI) payload consumed before refusing; a longer one closes the connection. */
  maxPayload: number;
  /** Largest CONNECT text (the driver sends at most 520 UTF-16 characters); longer closes. */
  maxConnectText: number;
  /** Largest UNMAP / ZERO range list; longer closes. */
  maxRangeList: number;
  /** Reply bytes being produced (read, not yet handed to the kernel) across all connections. */
  maxServerReplyBytes: number;
  /** Simultaneous connections; further ones are closed at once (and logged). */
  maxConnections: number;
  /**
   * How long the rest of a request may take to arrive once its code has: the driver sends a
   * request whole, so one stalled half-way is a broken client (the connection closes). Idle time
   * between requests is not limited — an attached disk may sit idle for days.
   */
  requestTimeoutMs: number;
  /** At shutdown, how long a reply being sent may take before connections are cut. */
  shutdownGraceMs: number;
}

export const defaultProxyLimits: ProxyLimits = {
  // The driver's IRP length is 32-bit: this is the most it can ask for in one READ.
  maxRead: 2 ** 32 - 1,
  readPiece: 8 * 1024 * 1024,
  maxPayload: 32 * 1024 * 1024,
  maxConnectText: 4096,
  maxRangeList: 1024 * 1024,
  maxServerReplyBytes: 64 * 1024 * 1024,
  maxConnections: 256,
  requestTimeoutMs: 30_000,
  shutdownGraceMs: 5_000,
};

/**
 * INFO's req_alignment: reads are served at any offset and length, as ImDisk's devio says with 1
 * (the driver accepts 1..512; Arsenal's own server sends the sector size).
 */
export const REQUIRED_ALIGNMENT = 1n;
