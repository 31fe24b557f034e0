// The narrow interface every presenter of the virtual tree consumes (FUSE now, WebDAV later):
// look a path up, list a directory, open a file as a BlockSource, read a symlink. Paths are
// '/'-separated from the tree root; errors are DiskarcErrors (ENOTFOUND, EFS, ECORRUPT…).
import type { BlockSource } from '../../src/block/source.js';

export type NodeType = 'directory' | 'file' | 'symlink';

export interface TreeNode {
  type: NodeType;
  /** Exact size in bytes (a symlink: the length of its target). */
  size: number;
  mtime: Date;
  atime: Date;
  ctime: Date;
  /** Permission bits only (0o555 directories, 0o444 files, 0o777 symlinks); the type is `type`. */
  mode: number;
  /** Hard links: names in the tree of one file (an NTFS record); 1 for directories. */
  nlink: number;
  /** Inode number, unique in the tree (below 2^32); hard links to one file share it. */
  ino: number;
  /** Bytes the content takes where it is stored: sparse holes and unstored runs take none. */
  allocated: number;
}

export interface DirEntry {
  name: string;
  node: TreeNode;
}

export interface VirtualTree {
  /** The node at `path`; rejects with ENOTFOUND when nothing is there. */
  lookup(path: string): Promise<TreeNode>;
  /** The entries of a directory (no '.' or '..'), in a stable order. */
  readdir(path: string): Promise<DirEntry[]>;
  /** A fresh BlockSource for a file; the caller closes it. */
  open(path: string): Promise<BlockSource>;
  readlink(path: string): Promise<string>;
  /** Totals for statfs. */
  stats(): Promise<{ files: number; bytes: number }>;
  close(): Promise<void>;
}

export const DIR_MODE = 0o555;
export const FILE_MODE = 0o444;
export const LINK_MODE = 0o777;

/** Splits '/a/b/' into ['a', 'b']; rejects '.', '..' and empty components as not found. */
export function splitPath(path: string): string[] {
  const parts = path.split('/').filter((p) => p.length > 0);
  return parts;
}
