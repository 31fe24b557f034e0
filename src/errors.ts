// Typed errors for every failure class a user can meet, each with a stable code and a distinct
// process exit code (documented in README.md "Exit codes"). Messages say what to do next.

export const ExitCode = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  NO_ARCHIVE: 3,
  NO_STREAM: 4,
  INPUT: 5,
  DESTINATION: 6,
  VERIFY_MISMATCH: 7,
  CORRUPT: 8,
  FILESYSTEM: 9,
  NOT_FOUND: 10,
  SERVER: 11,
  LOCKED: 12,
  NO_SPACE: 13,
  PERMISSION: 14,
  IO: 15,
  RESOURCES: 16,
  INTERRUPTED: 130,
} as const;

export type ErrorCode =
  | 'EINTERNAL' // a broken invariant: a bug in diskarc (use after close, writer misuse)
  | 'EUSAGE' // bad command-line argument or option value
  | 'ENOARCHIVE' // archive directory missing or not a diskarc archive
  | 'EEXIST' // refusing to overwrite (create on a non-empty directory)
  | 'ENOSTREAM' // stream id / name / prefix matches nothing, or is ambiguous
  | 'EINPUT' // input file or device unreadable
  | 'EDEST' // destination missing, wrong size, or unwritable
  | 'EMISMATCH' // verify found a difference
  | 'ECORRUPT' // archive data fails a checksum, is truncated or malformed
  | 'EFS' // filesystem / partition table malformed or unsupported
  | 'ENOTFOUND' // path inside a filesystem not found
  | 'ENOTDIR' // a path goes through something that is not a directory
  | 'EISDIR' // a directory where a file was expected (cat, open of a directory)
  | 'ENOKEY' // a file (storage key) of the archive does not exist
  | 'ERANGE' // read outside a block source
  | 'ESERVER' // server could not listen / mount
  | 'ELOCKED' // another diskarc process is writing to the archive
  | 'ENOSPACE' // no space left on a device, or a quota exceeded
  | 'EPERMISSION' // permission denied, or a read-only filesystem
  | 'EIO' // the operating system reported an I/O error
  | 'ERESOURCES' // out of file descriptors or memory
  | 'EINTR'; // interrupted by a signal

const exitFor: Record<ErrorCode, number> = {
  EINTERNAL: ExitCode.INTERNAL,
  EUSAGE: ExitCode.USAGE,
  ENOARCHIVE: ExitCode.NO_ARCHIVE,
  EEXIST: ExitCode.USAGE,
  ENOSTREAM: ExitCode.NO_STREAM,
  EINPUT: ExitCode.INPUT,
  EDEST: ExitCode.DESTINATION,
  EMISMATCH: ExitCode.VERIFY_MISMATCH,
  ECORRUPT: ExitCode.CORRUPT,
  EFS: ExitCode.FILESYSTEM,
  ENOTFOUND: ExitCode.NOT_FOUND,
  ENOTDIR: ExitCode.NOT_FOUND,
  EISDIR: ExitCode.USAGE,
  // A missing archive file is damage to the archive; callers that know better (no diskarc.json:
  // not an archive) translate it first.
  ENOKEY: ExitCode.CORRUPT,
  ERANGE: ExitCode.USAGE,
  ESERVER: ExitCode.SERVER,
  ELOCKED: ExitCode.LOCKED,
  ENOSPACE: ExitCode.NO_SPACE,
  EPERMISSION: ExitCode.PERMISSION,
  EIO: ExitCode.IO,
  ERESOURCES: ExitCode.RESOURCES,
  EINTR: ExitCode.INTERRUPTED,
};

export class DiskarcError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (stream id, offset, path…) for --json and --verbose. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiskarcError';
    this.code = code;
    this.details = details;
  }

  get exitCode(): number {
    return exitFor[this.code];
  }
}

export function isDiskarcError(e: unknown, code?: ErrorCode): e is DiskarcError {
  return e instanceof DiskarcError && (code === undefined || e.code === code);
}

/** The operating system's error codes for environmental failures, by the class they belong to. */
const systemClasses: Record<string, { code: ErrorCode; says: string; fix: string }> = {
  ENOSPC: { code: 'ENOSPACE', says: 'no space left on the device', fix: 'free some space and run the command again' },
  EDQUOT: { code: 'ENOSPACE', says: 'disk quota exceeded', fix: 'free some space or raise the quota and run the command again' },
  EFBIG: { code: 'ENOSPACE', says: 'file too large for its filesystem', fix: 'use a filesystem that holds files this large' },
  EACCES: { code: 'EPERMISSION', says: 'permission denied', fix: 'run as a user who may access it' },
  EPERM: { code: 'EPERMISSION', says: 'operation not permitted', fix: 'run as a user who may do this (often root)' },
  EROFS: { code: 'EPERMISSION', says: 'read-only filesystem', fix: 'use a writable location' },
  EIO: { code: 'EIO', says: 'I/O error', fix: 'check the device (dmesg) and its cabling' },
  ENXIO: { code: 'EIO', says: 'no such device or address', fix: 'check that the device is still attached' },
  EMFILE: { code: 'ERESOURCES', says: 'too many open files', fix: 'raise the limit (ulimit -n) and run the command again' },
  ENFILE: { code: 'ERESOURCES', says: 'too many open files in the system', fix: 'close other programs or raise fs.file-max' },
  ENOMEM: { code: 'ERESOURCES', says: 'out of memory', fix: 'free some memory or lower --data-cache-size-mib' },
};

/**
 * Turns an operating-system error (ENOSPC, EACCES, EIO, EMFILE…) into the DiskarcError of its
 * class, naming what was being done; undefined for anything else (a bug, a DiskarcError…).
 * `doing` reads as "while <doing>", e.g. "writing the archive /backups/arc".
 */
export function systemError(e: unknown, doing?: string): DiskarcError | undefined {
  if (e instanceof DiskarcError || !(e instanceof Error)) return undefined;
  const errno = (e as NodeJS.ErrnoException).code;
  const cls = errno === undefined ? undefined : systemClasses[errno];
  if (!cls) return undefined;
  const path = (e as NodeJS.ErrnoException).path;
  const where = [doing && `while ${doing}`, path && !doing?.includes(path) && `(${path})`].filter(Boolean).join(' ');
  return new DiskarcError(
    cls.code,
    `${cls.says}${where ? ' ' + where : ''}: ${cls.fix}`,
    { errno, ...(path ? { path } : {}), ...(doing ? { doing } : {}) },
    { cause: e },
  );
}

/** Rethrows `e` as its system-error class when it is one (see systemError), else unchanged. */
export function classifySystemError(e: unknown, doing?: string): unknown {
  return systemError(e, doing) ?? e;
}
