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
  INTERRUPTED: 130,
} as const;

export type ErrorCode =
  | 'EUSAGE'        // bad command-line argument or option value
  | 'ENOARCHIVE'    // archive directory missing or not a diskarc archive
  | 'EEXIST'        // refusing to overwrite (create on a non-empty directory)
  | 'ENOSTREAM'     // stream id / name / prefix matches nothing, or is ambiguous
  | 'EINPUT'        // input file or device unreadable
  | 'EDEST'         // destination missing, wrong size, or unwritable
  | 'EMISMATCH'     // verify found a difference
  | 'ECORRUPT'      // archive data fails a checksum, is truncated or malformed
  | 'EFS'           // filesystem / partition table malformed or unsupported
  | 'ENOTFOUND'     // path inside a filesystem not found
  | 'ERANGE'        // read outside a block source
  | 'ESERVER'       // server could not listen / mount
  | 'ELOCKED'      // another diskarc process is writing to the archive
  | 'EINTR';        // interrupted by a signal

const exitFor: Record<ErrorCode, number> = {
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
  ERANGE: ExitCode.USAGE,
  ESERVER: ExitCode.SERVER,
  ELOCKED: ExitCode.LOCKED,
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
