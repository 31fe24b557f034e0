// What pack reads: a regular file or block device (random access: holes are skipped and the
// input is read again to verify), or a pipe — `-` (stdin), a FIFO, /dev/stdin on a pipe — read
// once, as a stream of bytes of unknown length. Character devices and sockets are refused.
import { fstatSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FileBlockSource, notRandomAccess } from '../block/file-source.js';
import { PipeReader } from '../block/pipe-reader.js';
import { classifySystemError, DiskarcError } from '../errors.js';

export const STDIN_INPUT = '-';

export type PackInput =
  | { kind: 'file'; source: FileBlockSource; sourcePath: string }
  | { kind: 'pipe'; pipe: PipeReader; sourcePath: string };

const pipeHint = (what: string) => `pipe its bytes in instead: head -c SIZE ${what} | diskarc pack -a ARCHIVE - --name NAME`;

/** Opens `path` (or stdin for `-`) as pack's input; refusals are EINPUT (exit 5). Never blocks on a pipe without a writer. */
export async function openPackInput(path: string): Promise<PackInput> {
  if (path === STDIN_INPUT) return openStdin();
  let st: Stats;
  try {
    st = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DiskarcError('EINPUT', `cannot open ${path}: no such file`, { path }, { cause: e });
    throw classifySystemError(e, `opening the input ${path}`);
  }
  const sourcePath = resolve(path);
  if (st.isFIFO()) {
    try {
      return { kind: 'pipe', pipe: await PipeReader.open(path), sourcePath };
    } catch (e) {
      throw classifySystemError(e, `opening the input ${path}`);
    }
  }
  if (st.isCharacterDevice()) {
    throw new DiskarcError('EINPUT', `${path} is a character device: it has no size, and its bytes may never end (/dev/zero) or never come; to archive what it yields, ${pipeHint(path)}`, { path });
  }
  if (st.isSocket()) throw new DiskarcError('EINPUT', `${path} is a socket, not a file, block device or pipe; ${pipeHint(path)}`, { path });
  return { kind: 'file', source: await FileBlockSource.open(path), sourcePath };
}

async function openStdin(): Promise<PackInput> {
  const st = fstatSync(0);
  if (st.isFIFO() || st.isSocket()) return { kind: 'pipe', pipe: PipeReader.stdin(), sourcePath: 'stdin' };
  const refused = notRandomAccess(st);
  if (refused) {
    throw new DiskarcError('EINPUT', `standard input is ${refused === 'a character device' ? 'a terminal or character device' : refused}: give pack a pipe (some-command | diskarc pack - --name NAME) or a file`, { path: STDIN_INPUT });
  }
  // A file or disk redirected to stdin (< disk.img) is read at random like any other.
  return { kind: 'file', source: await FileBlockSource.open('/proc/self/fd/0'), sourcePath: 'stdin' };
}
