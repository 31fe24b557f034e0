// Loads the N-API addon built from native/diskarc_native.c by `npm install` (node-gyp).
// The addon is required: pack needs SEEK_DATA/SEEK_HOLE and block-device ioctls Node lacks.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface NativeAddon {
  /** Next offset ≥ offset holding data, or -1 when none (ENXIO). */
  seekData(fd: number, offset: number): number;
  /** Next offset ≥ offset starting a hole (the file size at EOF). */
  seekHole(fd: number, offset: number): number;
  blockDeviceSize(fd: number): number;
  blockDiscard(fd: number, offset: number, length: number): void;
  punchHole(fd: number, offset: number, length: number): void;
  findCuts(
    buf: Uint8Array,
    gear: Uint32Array,
    min: number,
    avg: number,
    max: number,
    maskS: number,
    maskL: number,
    out: Uint32Array,
  ): number;
  /** SHA-256 of the chunks [start, ends[0]), [ends[0], ends[1]) … into out (32 bytes each). */
  hashChunks(buf: Uint8Array, start: number, ends: Uint32Array, count: number, out: Uint8Array): void;
  /** Fixes glibc's mmap threshold (bytes): larger allocations are mmapped and unmapped on free. */
  mallocTuning(mmapThreshold: number): boolean;
  /** Asks for a socket send buffer of `bytes` (SO_SNDBUF, capped by net.core.wmem_max); returns what the kernel set. */
  setSendBuffer(fd: number, bytes: number): number;
  /**
   * Checks `src` against CRC-32 `crc` (-1: no check), then decompresses it — one zstd frame,
   * which must fill `dst` exactly — on libuv's thread pool. Resolves to `dst`; rejects with code
   * ECHECKSUM or EFRAME. Use `zstdDecompress` / `zstdDecompressTo`.
   */
  zstdDecompressInto(src: Uint8Array, dst: Uint8Array, crc: number): Promise<Uint8Array>;
  /**
   * One pool job for a slab load: preads `length` bytes at `position` into `scratch`, takes the
   * CRC-32 of scratch[payloadOffset, bytesRead), and decodes that payload into `dst` when it is a
   * zstd frame whose content size fits. Resolves to [bytesRead, payloadCrc, decoded]: `decoded`
   * is the frame's size, or -1 (not a zstd frame), -2 (size unknown or too large for dst), -3
   * (does not decode). Headers are the caller's to check. Use `readRecordDecoding`.
   */
  readRecordDecoding(
    fd: number,
    position: number,
    length: number,
    scratch: Uint8Array,
    payloadOffset: number,
    dst: Uint8Array,
  ): Promise<[number, number, number]>;
  /** The nice value (0..19) each pool thread takes before its next slab job (zstdDecompressInto, readRecordDecoding). */
  setDecodeNice(nice: number): void;
}

const require = createRequire(import.meta.url);
// dist/native/index.js → <root>/native/build/Release
const addonPath = fileURLToPath(new URL('../../native/build/Release/diskarc_native.node', import.meta.url));

export const native: NativeAddon = require(addonPath) as NativeAddon;

/**
 * Decompresses one zstd frame of exactly `rawLength` bytes off the JS thread, first checking the
 * frame against `crc` (CRC-32) when given. The output is not zero-filled first (allocUnsafeSlow:
 * its own memory, never a pool slice), as every byte is written.
 */
export async function zstdDecompress(src: Uint8Array, rawLength: number, crc?: number): Promise<Buffer> {
  return zstdDecompressTo(src, Buffer.allocUnsafeSlow(rawLength), crc);
}

/** zstdDecompress into a buffer the caller provides (e.g. a pooled one): the frame must fill `dst` exactly. */
export async function zstdDecompressTo(src: Uint8Array, dst: Buffer, crc?: number): Promise<Buffer> {
  await native.zstdDecompressInto(src, dst, crc ?? -1);
  return dst;
}

/** readRecordDecoding's `decoded` when the payload was not decompressed (else the frame's size). */
export const RECORD_NOT_ZSTD = -1;
export const RECORD_FRAME_DOES_NOT_FIT = -2;
export const RECORD_FRAME_UNDECODABLE = -3;
