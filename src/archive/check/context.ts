// What every checker of `check` shares: the archive directory, the problem log, and metered
// reads (the check reports how many bytes it read — the fast check must stay cheap).
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { classifySystemError, DiskarcError } from '../../errors.js';
import { fileHeader, type FileContent } from '../layout.js';
import { checkFileHeader } from '../slab-file.js';
import type { Note } from './report.js';
import { ProblemLog } from './report.js';

export class CheckContext {
  readonly log = new ProblemLog();
  readonly notes: Note[] = [];
  bytesRead = 0;

  constructor(readonly dir: string, readonly deep: boolean) {}

  path(rel: string): string {
    return join(this.dir, rel);
  }

  /** Opens an archive file; undefined when it does not exist (other errors are the system's). */
  async open(rel: string): Promise<FileHandle | undefined> {
    try {
      return await open(this.path(rel), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw classifySystemError(e, `checking ${this.path(rel)}`);
    }
  }

  /** `length` bytes at `position` (fewer at the end of the file), counted in bytesRead. */
  async read(fh: FileHandle, length: number, position: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    this.bytesRead += done;
    return done === length ? buf : buf.subarray(0, done);
  }

  /** A whole small file, or undefined when it does not exist. */
  async readWhole(rel: string): Promise<Buffer | undefined> {
    try {
      const buf = await readFile(this.path(rel));
      this.bytesRead += buf.length;
      return buf;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw classifySystemError(e, `checking ${this.path(rel)}`);
    }
  }
}

/**
 * Parses a write-once JSON file (diskarc.json, meta.json) and insists it is byte for byte what
 * the writer wrote (strict UTF-8, `JSON.stringify(value, null, 2)` and a newline): any change at
 * all — even one a lenient parser would accept — is damage. Returns the value or why it fails.
 */
export function parseWrittenJson(buf: Buffer): { value: Record<string, unknown> } | { why: string } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return { why: 'is not valid UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { why: 'is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { why: 'is not a JSON object' };
  if (JSON.stringify(value, null, 2) + '\n' !== text) return { why: 'differs from what diskarc wrote (edited or damaged)' };
  return { value: value as Record<string, unknown> };
}

/** checkFileHeader, and the flags field too: format.md §2 says it is 0, so anything else is damage. */
export function checkWrittenHeader(buf: Buffer, rel: string, content: FileContent): void {
  checkFileHeader(buf, rel, content);
  const flags = fileHeader.get(buf, 0, 'flags');
  if (flags !== 0) throw new DiskarcError('ECORRUPT', `${rel}: header flags are ${flags}, not 0`, { path: rel });
}
