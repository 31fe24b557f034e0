// A stream's metadata as stored in streams/<id>/meta.json (see docs/format.md) and shown by
// `diskarc info` / `list`.

export interface StreamInfo {
  /** 16 lowercase hex digits. */
  id: string;
  name: string;
  sourcePath: string;
  /** Logical size in bytes. */
  size: number;
  /** Bytes that were mapped (not holes) in the input. */
  mappedSize: number;
  /** Bytes stored as fills (runs of one byte value, zeros included). */
  fillBytes: number;
  /** Bytes of data chunks already present in the archive. */
  duplicateBytes: number;
  /** Compressed bytes appended to data slab files for this stream. */
  dataWritten: number;
  /** Bytes appended to hash slab files. */
  hashesWritten: number;
  /** Bytes of this stream's map files. */
  mapWritten: number;
  /** Number of extents in the map. */
  extentCount: number;
  /** ISO-8601 time at which pack finished. */
  packTime: string;
  packSeconds: number;
  toolVersion: string;
  /** "sha256:<hex>" of the whole logical content (holes read as zeros). */
  digest: string;
}
