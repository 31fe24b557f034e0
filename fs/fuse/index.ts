// FUSE presentation of the virtual tree (docs/mount.md).
export { FuseMount, type FuseMountOptions } from './fuse-mount.js';
export { checkMountpoint, findMount, fixCommand, readMounts, type MountEntry } from './mountpoint.js';
export { ReadaheadReader, ReadaheadBudget } from './readahead.js';
