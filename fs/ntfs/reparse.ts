// $REPARSE_POINT values (libfsntfs "Reparse point attribute"): symbolic links and junctions
// (mount points) give a link target; WOF ("compact") files name their compression algorithm.
import { corrupt, decode, ntfsLayout, readName, requireBytes } from './layout.js';

export const ReparseTag = {
  MOUNT_POINT: 0xa0000003,
  SYMLINK: 0xa000000c,
  WOF: 0x80000017,
} as const;

export const ReparseHeaderLayout = ntfsLayout('reparse point header', {
  tag: { offset: 0, type: 'u32le' },
  dataLength: { offset: 4, type: 'u16le' },
});

/** Symlink / mount point buffer after the 8-byte header (mount points have no flags field). */
export const LinkReparseLayout = ntfsLayout('link reparse buffer', {
  substituteOffset: { offset: 0, type: 'u16le' },
  substituteLength: { offset: 2, type: 'u16le' },
  printOffset: { offset: 4, type: 'u16le' },
  printLength: { offset: 6, type: 'u16le' },
  flags: { offset: 8, type: 'u32le' },
});

/** WOF_EXTERNAL_INFO followed by FILE_PROVIDER_EXTERNAL_INFO_V1. */
export const WofReparseLayout = ntfsLayout('WOF reparse buffer', {
  wofVersion: { offset: 8, type: 'u32le' },
  provider: { offset: 12, type: 'u32le' },
  fileVersion: { offset: 16, type: 'u32le' },
  algorithm: { offset: 20, type: 'u32le' },
});

export const WofAlgorithms = ['XPRESS4K', 'LZX', 'XPRESS8K', 'XPRESS16K'] as const;

export type Reparse =
  | { kind: 'symlink' | 'junction'; tag: number; target: string; relative: boolean }
  | { kind: 'wof'; tag: number; algorithm: string }
  | { kind: 'other'; tag: number };

export function parseReparsePoint(value: Buffer, what: string): Reparse {
  const h = decode(value, ReparseHeaderLayout, 0, what);
  requireBytes(value, 8, h.dataLength, what);
  if (h.tag === ReparseTag.SYMLINK || h.tag === ReparseTag.MOUNT_POINT) {
    const l = decode(value, LinkReparseLayout, 8, what);
    const pathBase = 8 + (h.tag === ReparseTag.SYMLINK ? 12 : 8);
    const names = value.subarray(pathBase, 8 + h.dataLength);
    const pick = l.printLength ? [l.printOffset, l.printLength] : [l.substituteOffset, l.substituteLength];
    if (pick[0] % 2 || pick[1] % 2) throw corrupt(what, 'link name offsets are not UTF-16 aligned');
    const raw = readName(names, pick[0], pick[1] / 2, what);
    const relative = h.tag === ReparseTag.SYMLINK && (l.flags & 1) === 1;
    return { kind: h.tag === ReparseTag.SYMLINK ? 'symlink' : 'junction', tag: h.tag, target: linkTarget(raw), relative };
  }
  if (h.tag === ReparseTag.WOF) {
    const w = decode(value, WofReparseLayout, 0, what);
    return { kind: 'wof', tag: h.tag, algorithm: WofAlgorithms[w.algorithm] ?? `unknown algorithm ${w.algorithm}` };
  }
  return { kind: 'other', tag: h.tag };
}

/**
 * A Windows link name as a POSIX-style target: backslashes become slashes, and the NT prefix of
 * an absolute substitute name (`\??\`) is dropped; a drive letter stays (`C:/dir`), as the
 * volume's mount point is unknown.
 */
function linkTarget(raw: string): string {
  return raw.replace(/^\\\?\?\\/, '').replace(/\\/g, '/');
}
