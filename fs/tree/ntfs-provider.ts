// The NTFS reader as the tree sees it (the contract of fs/ntfs/index.ts). It is loaded on first
// use, so the tree works — and shows partitions as images — even where no NTFS path is touched.
import type { BlockSource } from '../../src/block/source.js';
import { DiskarcError } from '../../src/errors.js';
// Types only (erased): the modules themselves are imported on first use, below.
import type { NtfsVolume } from '../ntfs/index.js';
import type { FileRecord } from '../ntfs/file-record.js';

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
  /** MFT records the volume holds: the tree numbers inodes by record within one range. */
  readonly recordCount?: number;
  /** How a record's stream is stored: allocated bytes (sparse runs take none) and hard links. */
  storageOf?(record: unknown, stream: string): NtfsStorage;
}

export interface NtfsStorage {
  allocated: number;
  links: number;
}

export type NtfsOpener = (source: BlockSource) => Promise<NtfsVolumeLike>;

let loaded: Promise<NtfsOpener> | undefined;

type NtfsModule = typeof import('../ntfs/index.js');
type StorageModule = typeof import('../ntfs/storage.js');

/** fs/ntfs's NtfsVolume as the tree sees it, with the storage facts of fs/ntfs/storage.ts. */
class NtfsVolumeView implements NtfsVolumeLike {
  constructor(
    private readonly vol: NtfsVolume,
    private readonly storage: StorageModule,
  ) {}
  get recordCount(): number {
    return this.vol.recordCount;
  }
  stat(path: string) {
    return this.vol.stat(path);
  }
  readdir(path: string) {
    return this.vol.readdir(path);
  }
  openFile(path: string): Promise<BlockSource> {
    return this.vol.openFile(path);
  }
  readlink(path: string) {
    return this.vol.readlink(path);
  }
  fileRecordOf(mftRecord: number) {
    return this.vol.fileRecordOf(mftRecord);
  }
  openStream(record: unknown, stream: string, path?: string): Promise<BlockSource> {
    return this.vol.openStream(record as FileRecord, stream, path);
  }
  readdirRecord(record: unknown) {
    return this.vol.readdirRecord(record as FileRecord);
  }
  storageOf(record: unknown, stream: string): NtfsStorage {
    const rec = record as FileRecord;
    return { allocated: this.storage.allocatedBytes(rec, stream, this.vol.clusterSize), links: this.storage.hardLinkCount(rec) };
  }
}

/** fs/ntfs's NtfsVolume.open, imported on first use. */
export function defaultNtfsOpener(): Promise<NtfsOpener> {
  loaded ??= (async () => {
    // Specifiers in variables: loaded at run time only, so the tree starts without the NTFS reader.
    const spec = '../ntfs/index.js';
    const storageSpec = '../ntfs/storage.js';
    try {
      const mod = (await import(spec)) as NtfsModule;
      const storage = (await import(storageSpec)) as StorageModule;
      return async (source: BlockSource) => new NtfsVolumeView(await mod.NtfsVolume.open(source), storage);
    } catch (e) {
      loaded = undefined;
      throw new DiskarcError('EFS', `the NTFS reader is not available: ${(e as Error).message}`, {}, { cause: e });
    }
  })();
  return loaded;
}
