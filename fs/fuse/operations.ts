// The FUSE operation table over a VirtualTree: getattr/readdir/open/read/release/statfs/readlink,
// and EROFS for every operation that would change anything. Each open file is a handle holding a
// BlockSource (with readahead); reads are promises, so a slow read never holds up another one.
import Fuse from 'fuse-native';
import { isDiskarcError, type ErrorCode } from '../../src/errors.js';
import type { TreeNode, VirtualTree } from '../tree/types.js';
import { type ReadaheadBudget, ReadaheadReader } from './readahead.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
/** st_blksize: the buffer size cp/dd-like tools pick; the kernel sends at most 128 KiB per read. */
const BLKSIZE = 128 * 1024;

export interface OperationsOptions {
  uid: number;
  gid: number;
  /** Where unexpected errors (mapped to EIO) are reported. */
  log: (msg: string) => void;
  readaheadBudget: ReadaheadBudget;
}

export interface FuseStat {
  mode: number;
  size: number;
  mtime: Date;
  atime: Date;
  ctime: Date;
  nlink: number;
  ino: number;
  uid: number;
  gid: number;
  blksize: number;
  blocks: number;
}

export function toStat(node: TreeNode, uid: number, gid: number): FuseStat {
  const typeBits = node.type === 'directory' ? S_IFDIR : node.type === 'symlink' ? S_IFLNK : S_IFREG;
  return {
    mode: typeBits | node.mode,
    size: node.size,
    mtime: node.mtime,
    atime: node.atime,
    ctime: node.ctime,
    nlink: node.nlink,
    ino: node.ino,
    uid,
    gid,
    blksize: BLKSIZE,
    // 512-byte units of what is stored: a sparse file shows fewer blocks than its size, which is
    // how du and cp --sparse=auto find its holes (libfuse 2 has no SEEK_HOLE/SEEK_DATA).
    blocks: Math.ceil(node.allocated / 512),
  };
}

/** The errno each class of failure means to a program reading the mount. */
const errnoByCode: Partial<Record<ErrorCode, number>> = {
  ENOTFOUND: Fuse.ENOENT,
  ENOTDIR: Fuse.ENOTDIR,
  EISDIR: Fuse.EISDIR,
  ERANGE: Fuse.EINVAL,
  EPERMISSION: Fuse.EACCES,
  ERESOURCES: Fuse.ENOMEM,
};

/**
 * DiskarcError → negative errno for the kernel. Expected lookups failures (ENOENT, ENOTDIR…)
 * are not logged; anything else — damage, I/O errors, bugs — is logged and becomes EIO.
 */
export function errnoOf(e: unknown, op: string, path: string, log: (msg: string) => void): number {
  const errno = isDiskarcError(e) ? errnoByCode[e.code] : undefined;
  if (errno !== undefined) return errno;
  log(`${op} ${path}: ${(e as Error)?.message ?? String(e)}`);
  return Fuse.EIO;
}

export class HandleTable {
  private readonly handles = new Map<number, { path: string; reader: ReadaheadReader }>();
  private next = 1;

  add(path: string, reader: ReadaheadReader): number {
    while (this.handles.has(this.next) || this.next === 0) this.next = (this.next + 1) >>> 0;
    const fh = this.next;
    this.next = (this.next + 1) >>> 0;
    this.handles.set(fh, { path, reader });
    return fh;
  }

  get(fh: number): ReadaheadReader | undefined {
    return this.handles.get(fh)?.reader;
  }

  remove(fh: number): ReadaheadReader | undefined {
    const h = this.handles.get(fh);
    this.handles.delete(fh);
    return h?.reader;
  }

  get size(): number {
    return this.handles.size;
  }

  async closeAll(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(all.map((h) => h.reader.close()));
  }
}

type Cb = (code: number, ...result: unknown[]) => void;

export function createOperations(
  tree: VirtualTree,
  handles: HandleTable,
  opts: OperationsOptions,
): Record<string, (...args: never[]) => void> {
  const { uid, gid, log } = opts;
  const fail = (op: string, path: string, cb: Cb) => (e: unknown) => cb(errnoOf(e, op, path, log));
  const readOnly = (cb: Cb) => cb(Fuse.EROFS);

  return {
    getattr(path: string, cb: Cb) {
      tree.lookup(path).then((node) => cb(0, toStat(node, uid, gid)), fail('getattr', path, cb));
    },
    fgetattr(path: string, _fh: number, cb: Cb) {
      tree.lookup(path).then((node) => cb(0, toStat(node, uid, gid)), fail('fgetattr', path, cb));
    },
    readdir(path: string, cb: Cb) {
      tree.readdir(path).then(
        (entries) =>
          cb(
            0,
            entries.map((e) => e.name),
            entries.map((e) => toStat(e.node, uid, gid)),
          ),
        fail('readdir', path, cb),
      );
    },
    open(path: string, flags: number, cb: Cb) {
      if ((flags & O_ACCMODE) !== 0 || (flags & O_TRUNC) !== 0) return readOnly(cb);
      tree.open(path).then((source) => cb(0, handles.add(path, new ReadaheadReader(source, opts.readaheadBudget))), fail('open', path, cb));
    },
    read(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) {
      const reader = handles.get(fh);
      if (!reader) return cb(Fuse.EBADF);
      if (pos >= reader.size) return cb(0);
      // buf is libfuse's memory, valid until cb returns: copied into, never kept.
      let n: number | Promise<number>;
      try {
        n = reader.readInto(buf, pos, Math.min(len, reader.size - pos));
      } catch (e) {
        return fail('read', path, cb)(e);
      }
      if (typeof n === 'number') return cb(n);
      n.then((bytes) => cb(bytes), fail('read', path, cb));
    },
    release(_path: string, fh: number, cb: Cb) {
      const reader = handles.remove(fh);
      if (!reader) return cb(0);
      reader.close().then(
        () => cb(0),
        (e) => {
          log(`release ${_path}: ${(e as Error).message}`);
          cb(0);
        },
      );
    },
    readlink(path: string, cb: Cb) {
      tree.readlink(path).then((target) => cb(0, target), fail('readlink', path, cb));
    },
    statfs(path: string, cb: Cb) {
      tree.stats().then(
        ({ files, bytes }) => {
          const bsize = 65536;
          cb(0, {
            bsize,
            frsize: bsize,
            blocks: Math.min(0xffffffff, Math.ceil(bytes / bsize)),
            bfree: 0,
            bavail: 0,
            files: Math.min(0xffffffff, files),
            ffree: 0,
            favail: 0,
            fsid: 0,
            flag: 1, // ST_RDONLY
            namemax: 255,
          });
        },
        fail('statfs', path, cb),
      );
    },
    // Everything that would change the tree: the archive is immutable.
    write: (_p: string, _fh: number, _b: Buffer, _l: number, _o: number, cb: Cb) => readOnly(cb),
    create: (_p: string, _m: number, cb: Cb) => readOnly(cb),
    mknod: (_p: string, _m: number, _d: number, cb: Cb) => readOnly(cb),
    mkdir: (_p: string, _m: number, cb: Cb) => readOnly(cb),
    unlink: (_p: string, cb: Cb) => readOnly(cb),
    rmdir: (_p: string, cb: Cb) => readOnly(cb),
    rename: (_s: string, _d: string, cb: Cb) => readOnly(cb),
    link: (_s: string, _d: string, cb: Cb) => readOnly(cb),
    symlink: (_s: string, _d: string, cb: Cb) => readOnly(cb),
    chmod: (_p: string, _m: number, cb: Cb) => readOnly(cb),
    chown: (_p: string, _u: number, _g: number, cb: Cb) => readOnly(cb),
    truncate: (_p: string, _s: number, cb: Cb) => readOnly(cb),
    ftruncate: (_p: string, _fh: number, _s: number, cb: Cb) => readOnly(cb),
    utimens: (_p: string, _a: number, _m: number, cb: Cb) => readOnly(cb),
    setxattr: (_p: string, _n: string, _v: Buffer, _pos: number, _f: number, cb: Cb) => readOnly(cb),
    removexattr: (_p: string, _n: string, cb: Cb) => readOnly(cb),
  };
}
