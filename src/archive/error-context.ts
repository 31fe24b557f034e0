// Restates an error in the terms of what an archive command was doing: storage classifies a
// failing system call by the file it touched (docs/storage.md); the command says which of its
// steps that stopped ("taking the write lock of archive X"), naming the file once.
import { classifySystemError, DiskarcError, systemError } from '../errors.js';

const ENVIRONMENTAL = new Set(['ENOSPACE', 'EPERMISSION', 'EIO', 'ERESOURCES']);

/** `e` as an error of `doing`: a raw system error classified so, a storage-classified one restated. */
export function inContext(e: unknown, doing: string): unknown {
  const err = classifySystemError(e, doing);
  if (!(err instanceof DiskarcError) || err.details.doing === doing || !ENVIRONMENTAL.has(err.code) || !(err.cause instanceof Error)) return err;
  const cause = err.cause as NodeJS.ErrnoException;
  const file = typeof err.details.file === 'string' ? err.details.file : undefined;
  // The errno without its own path (maybe a temp name): the file is named once, as the archive
  // file it was. A view of the cause, not a new error.
  const errnoOnly = Object.assign(Object.create(cause) as NodeJS.ErrnoException, { path: undefined });
  const restated = systemError(errnoOnly, file && !doing.includes(file) ? `${doing} (${file})` : doing);
  if (!restated) return err;
  return new DiskarcError(restated.code, restated.message, { ...err.details, ...restated.details, ...(cause.path ? { path: cause.path } : {}) }, { cause });
}
