// Types for the parts of fuse-native (a CommonJS package without its own types) that we use.
declare module 'fuse-native' {
  type Cb = (code: number, ...result: unknown[]) => void;
  interface FuseOps {
    [op: string]: ((...args: any[]) => void) | undefined;
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
    static [errno: string]: any;
  }
  export = Fuse;
}
