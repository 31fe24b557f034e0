// The mount bench's reference for fuse-native itself: one read-only file whose bytes come from
// memory (no archive, no decoding), served the way diskarc's mount serves — fuse-native's
// multi-threaded libfuse 2 loop handing every request to Node's event loop through the same read
// dispatch, on a connection tuned as diskarc's mount tunes it (readahead, max_background). Its sequential read
// rate is the ceiling of the transport the project is built on, measured beside the peers.
//   node dist/test/bench/fuse-transport-server.js MOUNTPOINT SIZE_BYTES
import Fuse from 'fuse-native';
import { DiskarcFuse, tuneFuseConnection } from '../../fs/fuse/fuse-mount.js';

const [mountPoint, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
if (!mountPoint || !Number.isSafeInteger(size) || size <= 0) {
  process.stderr.write('usage: fuse-transport-server MOUNTPOINT SIZE_BYTES\n');
  process.exit(2);
}
// Distinct bytes (not zeros) copied from a 4 MiB pattern, as a cache hit would be.
const pattern = Buffer.alloc(4 * 1024 * 1024);
for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 2654435761) >>> 24;

const now = new Date();
const stat = (mode: number, bytes: number) => ({ mtime: now, atime: now, ctime: now, nlink: 1, size: bytes, mode, uid: 0, gid: 0 });
type Cb = (code: number, ...rest: unknown[]) => void;
const ops = {
  readdir: (p: string, cb: Cb) => (p === '/' ? cb(0, ['data']) : cb(Fuse.ENOENT)),
  getattr: (p: string, cb: Cb) => (p === '/' ? cb(0, stat(0o40555, 4096)) : p === '/data' ? cb(0, stat(0o100444, size)) : cb(Fuse.ENOENT)),
  open: (_p: string, _flags: number, cb: Cb) => cb(0, 1),
  release: (_p: string, _fd: number, cb: Cb) => cb(0),
  read: (_p: string, _fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
    const n = Math.max(0, Math.min(len, size - pos));
    let done = 0;
    while (done < n) {
      const at = (pos + done) % pattern.length;
      done += pattern.copy(buf, done, at, Math.min(pattern.length, at + n - done));
    }
    cb(n);
  },
};
// The same fuse-native subclass as the mount (its lean read dispatch), with the same options.
const fuse = new DiskarcFuse(mountPoint, ops, ['ro', 'kernel_cache', 'max_read=1048576'], { force: true, mkdir: true });
fuse.mount((err: Error | null) => {
  if (err) {
    process.stderr.write(`mount failed: ${err.message}\n`);
    process.exit(1);
  }
  void tuneFuseConnection(mountPoint, {}, (m) => process.stderr.write(`${m}\n`)).then(() => process.stdout.write('ready\n'));
});
const stop = () => fuse.unmount(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
