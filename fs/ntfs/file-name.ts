// $FILE_NAME and $STANDARD_INFORMATION values (libfsntfs "File name attribute" / "Standard
// information attribute"): names with their namespace, parent reference, timestamps, DOS attributes.
import { decode, ntfsLayout, readName } from './layout.js';

export const FileNameLayout = ntfsLayout('$FILE_NAME', {
  parentRecord: { offset: 0, type: 'u48le' },
  parentSequence: { offset: 6, type: 'u16le' },
  created: { offset: 8, type: 'filetime' },
  modified: { offset: 16, type: 'filetime' },
  changed: { offset: 24, type: 'filetime' },
  accessed: { offset: 32, type: 'filetime' },
  allocatedSize: { offset: 40, type: 'u64le' },
  realSize: { offset: 48, type: 'u64le' },
  flags: { offset: 56, type: 'u32le' },
  reparseTag: { offset: 60, type: 'u32le' },
  nameLength: { offset: 64, type: 'u8' },
  namespace: { offset: 65, type: 'u8' },
});

export const StandardInformationLayout = ntfsLayout('$STANDARD_INFORMATION', {
  created: { offset: 0, type: 'filetime' },
  modified: { offset: 8, type: 'filetime' },
  changed: { offset: 16, type: 'filetime' },
  accessed: { offset: 24, type: 'filetime' },
  attributes: { offset: 32, type: 'u32le' },
});

export const Namespace = { POSIX: 0, WIN32: 1, DOS: 2, WIN32_AND_DOS: 3 } as const;

/** DOS/Windows file attribute bits (FILE_ATTRIBUTE_*). */
export const FileAttributes = {
  READONLY: 0x1,
  HIDDEN: 0x2,
  SYSTEM: 0x4,
  DIRECTORY: 0x10,
  ARCHIVE: 0x20,
  SPARSE: 0x200,
  REPARSE_POINT: 0x400,
  COMPRESSED: 0x800,
  ENCRYPTED: 0x4000,
  /** $FILE_NAME's "has an $I30 index" bit. */
  INDEX_VIEW: 0x10000000,
} as const;

export interface FileName {
  parentRecord: number;
  parentSequence: number;
  name: string;
  namespace: number;
  flags: number;
  realSize: number;
  modified: Date;
}

export interface StandardInformation {
  created: Date;
  modified: Date;
  changed: Date;
  accessed: Date;
  attributes: number;
}

/** A decoded `filetime` field (Unix ms) as a Date. */
export function filetimeToDate(ms: number): Date {
  return new Date(ms);
}

export function parseFileName(value: Buffer, what: string): FileName {
  const f = decode(value, FileNameLayout, 0, what);
  return {
    parentRecord: f.parentRecord,
    parentSequence: f.parentSequence,
    name: readName(value, 66, f.nameLength, what),
    namespace: f.namespace,
    flags: f.flags,
    realSize: f.realSize,
    modified: filetimeToDate(f.modified),
  };
}

export function parseStandardInformation(value: Buffer, what: string): StandardInformation {
  const s = decode(value, StandardInformationLayout, 0, what);
  return {
    created: filetimeToDate(s.created),
    modified: filetimeToDate(s.modified),
    changed: filetimeToDate(s.changed),
    accessed: filetimeToDate(s.accessed),
    attributes: s.attributes,
  };
}
