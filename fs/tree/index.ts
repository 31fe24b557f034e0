// The virtual file tree presented by FUSE and WebDAV alike (see docs/mount.md).
export type { DirEntry, NodeType, TreeNode, VirtualTree } from './types.js';
export { StreamTree, BARE_FS_DIR, type StreamTreeOptions } from './stream-tree.js';
export { archiveCatalog, imageCatalog, type CatalogStream, type StreamCatalog } from './catalog.js';
export { escapeName, safeEntryName, uniqueNames } from './names.js';
export type { NtfsEntryLike, NtfsVolumeLike, NtfsOpener } from './ntfs-provider.js';
