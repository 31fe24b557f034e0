// The NTFS reader as the tree sees it (the contract of fs/ntfs/index.ts). It is loaded on first
// use, so the tree works — and shows partitions as images — even where no NTFS path is touched.
import type { BlockSource } from '../../src/block/source.js';
import { DiskarcError } from '../../src/errors.js';

export interface NtfsEntryLike {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  mtime: Date;
  atime: Date;
  ctime: Date;
  birthtime?: Date;
  mftRecord?: number;
  /** Names of alternate data streams (not the unnamed one). */
  streams: string[];
  /** Byte sizes of the alternate data streams, by name (when the reader knows them). */
  streamSizes?: Record<string, number>;
  /** POSIX-style target ('/' separators); absolute ones keep a drive letter ("C:/dir"). */
  linkTarget?: string;
}

export interface NtfsVolumeLike {
  stat(path: string): Promise<NtfsEntryLike>;
  readdir(path: string): Promise<NtfsEntryLike[]>;
  openFile(path: string): Promise<BlockSource>;
  readlink(path: string): Promise<string>;
  /**
   * Optional shortcuts by MFT record number: the tree already knows each entry's record from its
   * parent's listing, so opening by record skips resolving the path again, component by component.
   */
  fileRecordOf?(mftRecord: number): Promise<unknown>;
  openStream?(record: unknown, stream: string, path?: string): Promise<BlockSource>;
  readdirRecord?(record: unknown): Promise<NtfsEntryLike[]>;
}

export type NtfsOpener = (source: BlockSource) => Promise<NtfsVolumeLike>;

let loaded: Promise<NtfsOpener> | undefined;

/** fs/ntfs's NtfsVolume.open, imported on first use. */
export function defaultNtfsOpener(): Promise<NtfsOpener> {
  loaded ??= (async () => {
    const spec = '../ntfs/index.js';
    try {
      const mod = (await import(spec)) as { NtfsVolume: { open(source: BlockSource): Promise<NtfsVolumeLike> } };
      return (source: BlockSource) => mod.NtfsVolume.open(source);
    } catch (e) {
      loaded = undefined;
      throw new DiskarcError('EFS', `the NTFS reader is not available: ${(e as Error).message}`, {}, { cause: e });
    }
  })();
  return loaded;
}
