// Tunable bounds of the NBD server: what one request may ask for, how much one connection may
// have outstanding (backpressure), and how long the server waits for slow or stuck clients.

export interface NbdLimits {
  /** Largest READ (and advertised NBD_INFO_BLOCK_SIZE maximum payload); larger requests get EINVAL. */
  maxPayload: number;
  /** Requests one connection may have in flight before the server stops reading its socket. */
  maxInFlightRequests: number;
  /** Reply bytes (being produced + queued on the socket) per connection before the server stops reading. */
  maxPendingReplyBytes: number;
  /** Reply bytes being produced at once across all connections (a READ waits for its share). */
  maxServerReplyBytes: number;
  /** Zero/hole runs shorter than this are sent inline as data in structured READ replies. */
  minHoleChunk: number;
  /** Longest an option haggling phase may take before the connection is dropped. */
  handshakeTimeoutMs: number;
  /** Simultaneous connections; further ones are closed at once (and logged). */
  maxConnections: number;
  /** At shutdown, how long in-flight replies may take before connections are cut. */
  shutdownGraceMs: number;
}

export const defaultNbdLimits: NbdLimits = {
  maxPayload: 32 * 1024 * 1024,
  maxInFlightRequests: 64,
  maxPendingReplyBytes: 16 * 1024 * 1024,
  maxServerReplyBytes: 64 * 1024 * 1024,
  minHoleChunk: 4096,
  handshakeTimeoutMs: 10_000,
  maxConnections: 256,
  shutdownGraceMs: 5_000,
};

/** Advertised in NBD_INFO_BLOCK_SIZE: any alignment works; 4 KiB is efficient. */
export const MIN_BLOCK_SIZE = 1;
export const PREFERRED_BLOCK_SIZE = 4096;
