// A block source over a regular file or a block device: raw images for `--image`, the input
// side of pack, and the peer that tests compare archived streams against.
// Extents come from SEEK_DATA / SEEK_HOLE, so sparse files report their holes.
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { native } from '../../native/index.js';
import { classifySystemError, DiskarcError } from '../errors.js';
import { checkRange, type BlockSource, type Extent } from './source.js';

export class FileBlockSource implements BlockSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly path: string,
    readonly isBlockDevice: boolean,
  ) {}

  /**
   * Opens a regular file or a block device. Anything else is refused as bad input (EINPUT):
   * a directory, and inputs with no size to read at random — pipes, character devices (whose
   * bytes may never end, like /dev/zero), sockets. O_NONBLOCK keeps a FIFO that appears under
   * the path from blocking the open; it changes nothing for files and disks.
   */
  static async open(path: string): Promise<FileBlockSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new DiskarcError('EINPUT', `cannot open ${path}: no such file`, { path }, { cause: e });
      if (err.code === 'ENXIO')
        throw new DiskarcError(
          'EINPUT',
          `${path} is a socket (or a device that is not there), not a file or block device`,
          { path },
          { cause: e },
        );
      const classified = classifySystemError(e, `opening ${path}`);
      if (classified !== e) throw classified;
      throw new DiskarcError('EINPUT', `cannot open ${path}: ${err.message}`, { path }, { cause: e });
    }
    try {
      const st = await handle.stat();
      const refused = notRandomAccess(st);
      if (refused) throw new DiskarcError('EINPUT', `${path} is ${refused}, not a file or block device`, { path });
      const isBlockDevice = st.isBlockDevice();
      const size = isBlockDevice ? native.blockDeviceSize(handle.fd) : st.size;
      return new FileBlockSource(handle, size, path, isBlockDevice);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  get fd(): number {
    return this.handle.fd;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(buf, offset);
    return buf;
  }

  /** Fills `buf` from `offset`; a short file (truncated under us) is an input error, never zeros. */
  async readInto(buf: Buffer, offset: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(buf, done, buf.length - done, offset + done));
      } catch (e) {
        throw classifySystemError(e, `reading ${this.path} at offset ${offset + done}`);
      }
      if (bytesRead === 0) {
        throw new DiskarcError('EINPUT', `${this.path}: unexpected end of file at ${offset + done} (file shrank while reading?)`, {
          path: this.path,
          offset: offset + done,
        });
      }
      done += bytesRead;
    }
  }

  async extents(offset: number, length: number): Promise<Extent[]> {
    const end = Math.min(this.size, offset + length);
    if (offset >= end) return [];
    if (this.isBlockDevice) return [{ offset, length: end - offset, kind: 'data' }];
    const out: Extent[] = [];
    let pos = offset;
    while (pos < end) {
      let dataStart = native.seekData(this.handle.fd, pos);
      if (dataStart < 0 || dataStart >= end) dataStart = end;
      if (dataStart > pos) out.push({ offset: pos, length: dataStart - pos, kind: 'hole' });
      if (dataStart >= end) break;
      const holeStart = Math.min(end, native.seekHole(this.handle.fd, dataStart));
      out.push({ offset: dataStart, length: holeStart - dataStart, kind: 'data' });
      pos = holeStart;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** What a file is when it cannot be read at random (for messages), or undefined when it can. */
export function notRandomAccess(st: Stats): string | undefined {
  if (st.isFile() || st.isBlockDevice()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}
