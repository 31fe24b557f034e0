// Types for the parts of fuse-native (a CommonJS package without its own types) that we use.
declare module 'fuse-native' {
  type Cb = (code: number, ...result: unknown[]) => void;
  interface FuseOps {
    // Each operation has its own parameters; never[] accepts any of them without opening `any`.
    [op: string]: ((...args: never[]) => void) | undefined;
  }
  interface FuseOpts {
    [opt: string]: unknown;
  }
  class Fuse {
    constructor(mnt: string, ops: FuseOps, opts?: FuseOpts);
    readonly mnt: string;
    opts: FuseOpts;
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    _fuseOptions(): string;
    /** fuse-native's table of per-operation handlers, built in its constructor (indexed by opcode). */
    _makeHandlerArray(): unknown[];
    ops: FuseOps;
    static unmount(mnt: string, cb: (err: Error | null) => void): void;
    // The errno values fuse-native exports and this code returns (negated by fuse-native).
    static readonly EACCES: number;
    static readonly EBADF: number;
    static readonly EINVAL: number;
    static readonly EIO: number;
    static readonly EISDIR: number;
    static readonly ENOENT: number;
    static readonly ENOMEM: number;
    static readonly ENOTDIR: number;
    static readonly EROFS: number;
  }
  export = Fuse;
}
