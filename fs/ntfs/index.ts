// Read-only NTFS reader: the public surface other modules (CLI, FUSE, WebDAV) use.
export {
  MAX_LINKS_FOLLOWED,
  NtfsVolume,
  SystemRecord,
  type NtfsEntry,
  type NtfsEntryType,
  type ReaddirOptions,
  type StatOptions,
} from './volume.js';
export { linkDestination, type LinkDestination, type LinkKind } from './link-path.js';
export { AttributeSource } from './attribute-stream.js';
export { looksLikeNtfs, parseBootSector, type Geometry } from './boot-sector.js';
export { FileAttributes } from './file-name.js';
export { openNtfsOnSource, type LocatedVolume } from './open-volume.js';
export { walkTree, type WalkItem } from './walk.js';
export { WofSource, WOF_STREAM } from './wof-stream.js';
