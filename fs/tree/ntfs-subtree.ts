// The files of one NTFS volume as a subtree: directories, files, symlinks, and each alternate
// data stream as a sibling file "name:stream". Names come from directory listings (made safe and
// unique), so a path is resolved through its parent's listing, never by re-deriving raw names.
// Listings are cached in a byte-bounded LRU shared by every volume of the tree.
import { LRUCache } from 'lru-cache';
import type { BlockSource } from '../../src/block/source.js';
import { DiskarcError } from '../../src/errors.js';
import type { InodeNumbers } from './inode-numbers.js';
import { safeEntryName, uniqueNames } from './names.js';
import type { NtfsEntryLike, NtfsVolumeLike } from './ntfs-provider.js';
import { DIR_MODE, FILE_MODE, LINK_MODE, type DirEntry, type TreeNode } from './types.js';

/** Children whose nodes (MFT records) readdir builds at once. */
const READDIR_BATCH = 256;

interface Child {
  /** Path inside the volume ("/dir/file" or "/dir/file:ads"). */
  ntfsPath: string;
  entry: NtfsEntryLike;
  /** Set for an alternate data stream entry. */
  ads?: string;
  /** Size of an ADS, learnt by opening it the first time it is looked at. */
  adsSize?: number;
  /** Allocation and hard links, read from the file record the first time it is looked at. */
  storage?: Storage;
}

interface Storage {
  allocated: number;
  nlink: number;
}

interface Listing {
  children: Map<string, Child>;
}

/** Listing cache shared by all volumes: bounded by the number of entries held. */
export function createListingCache(maxEntries = 200_000): LRUCache<string, Listing> {
  return new LRUCache<string, Listing>({ maxSize: maxEntries, sizeCalculation: (l) => l.children.size + 1 });
}

function notFound(path: string): DiskarcError {
  return new DiskarcError('ENOTFOUND', `${path}: no such file or directory`, { path });
}

export class NtfsSubtree {
  private volume?: Promise<NtfsVolumeLike>;
  /** Inode numbers of the volume's records: inodeBase + record number (hard links share one). */
  private inodeBase?: number;
  private recordCount = 0;
  private rootEntry?: Promise<NtfsEntryLike>;
  private readonly pending = new Map<string, Promise<Listing>>();

  /**
   * @param key unique prefix of this volume's listings in the shared cache
   * @param openVolume opens the volume; called on the first access below the subtree's root
   * @param inodes the tree's inode numbers
   */
  constructor(
    private readonly key: string,
    private readonly openVolume: () => Promise<NtfsVolumeLike>,
    private readonly listings: LRUCache<string, Listing>,
    private readonly inodes: InodeNumbers,
  ) {}

  /** The subtree root's inode number, known without opening the volume. */
  get rootIno(): number {
    return this.inodes.of(this.key);
  }

  private vol(): Promise<NtfsVolumeLike> {
    if (!this.volume) {
      this.volume = this.openVolume().then((v) => {
        if (this.inodeBase === undefined && v.recordCount) {
          this.inodeBase = this.inodes.range(v.recordCount);
          this.recordCount = v.recordCount;
        }
        return v;
      });
      // A failed open (corrupt volume) is retried on the next access rather than cached forever.
      this.volume.catch(() => (this.volume = undefined));
    }
    return this.volume;
  }

  /** The subtree's root directory node (mtime from the volume's root directory). */
  async rootNode(): Promise<TreeNode> {
    this.rootEntry ??= this.vol().then((v) => v.stat('/'));
    this.rootEntry.catch(() => (this.rootEntry = undefined));
    const entry = await this.rootEntry;
    return nodeOf(entry, '/', { ino: this.rootIno, ...(await this.storage({ ntfsPath: '/', entry })) });
  }

  async lookup(parts: string[]): Promise<TreeNode> {
    if (parts.length === 0) return this.rootNode();
    const child = await this.resolve(parts);
    return this.childNode(child);
  }

  async readdir(parts: string[]): Promise<DirEntry[]> {
    const listing = await this.listing(parts);
    // Each child's node reads its MFT record: a bounded number at a time, so a directory of 10^5
    // entries does not start 10^5 record reads (and hold their buffers) at once.
    const children = [...listing.children];
    const out: DirEntry[] = [];
    for (let i = 0; i < children.length; i += READDIR_BATCH) {
      const batch = children.slice(i, i + READDIR_BATCH);
      out.push(...(await Promise.all(batch.map(async ([name, child]) => ({ name, node: await this.childNode(child) })))));
    }
    return out;
  }

  async open(parts: string[]): Promise<BlockSource> {
    const child = await this.resolve(parts);
    if (!child.ads && child.entry.type !== 'file') {
      throw new DiskarcError('EFS', `${child.ntfsPath} is a ${child.entry.type}, not a file`, {
        path: child.ntfsPath,
        type: child.entry.type,
      });
    }
    return this.openChild(child);
  }

  private async openChild(child: Child): Promise<BlockSource> {
    const vol = await this.vol();
    if (vol.fileRecordOf && vol.openStream && child.entry.mftRecord !== undefined) {
      return vol.openStream(await vol.fileRecordOf(child.entry.mftRecord), child.ads ?? '', child.ntfsPath);
    }
    return vol.openFile(child.ntfsPath);
  }

  async readlink(parts: string[]): Promise<string> {
    const child = await this.resolve(parts);
    if (child.ads || child.entry.type !== 'symlink')
      throw new DiskarcError('EFS', `${child.ntfsPath} is not a symlink`, { path: child.ntfsPath });
    return presentTarget(child.entry.linkTarget ?? (await (await this.vol()).readlink(child.ntfsPath)), child.ntfsPath);
  }

  private async childNode(child: Child): Promise<TreeNode> {
    if (child.ads !== undefined && child.adsSize === undefined) child.adsSize = child.entry.streamSizes?.[child.ads];
    if (child.ads !== undefined && child.adsSize === undefined) {
      const src = await this.openChild(child);
      child.adsSize = src.size;
      await src.close();
    }
    const node = nodeOf(child.entry, child.ntfsPath, { ino: this.inoOf(child), ...(await this.storage(child)) });
    if (child.ads !== undefined) return { ...node, type: 'file', mode: FILE_MODE, size: child.adsSize ?? 0 };
    return node;
  }

  /** One number per MFT record, so every name of a hard-linked file shows the same inode. */
  private inoOf(child: Child): number {
    const mft = child.entry.mftRecord;
    if (child.ads === undefined && mft !== undefined && this.inodeBase !== undefined && mft < this.recordCount) return this.inodeBase + mft;
    return this.inodes.of(`${this.key}#${mft ?? child.ntfsPath}${child.ads !== undefined ? ':' + child.ads : ''}`);
  }

  private async storage(child: Child): Promise<Storage> {
    if (!child.storage) {
      const vol = await this.vol();
      if (vol.storageOf && vol.fileRecordOf && child.entry.mftRecord !== undefined) {
        const s = vol.storageOf(await vol.fileRecordOf(child.entry.mftRecord), child.ads ?? '');
        // Directories show link count 1 (see docs/mount.md); their blocks are their index blocks.
        const dir = child.ads === undefined && child.entry.type === 'directory';
        child.storage = { allocated: s.allocated, nlink: dir ? 1 : s.links };
      } else {
        // A reader that cannot tell: shown fully allocated, each name its own file.
        child.storage = {
          allocated: child.ads !== undefined ? (child.adsSize ?? 0) : child.entry.type === 'directory' ? 0 : child.entry.size,
          nlink: 1,
        };
      }
    }
    return child.storage;
  }

  private async resolve(parts: string[]): Promise<Child> {
    const listing = await this.listing(parts.slice(0, -1));
    const child = listing.children.get(parts[parts.length - 1]);
    if (!child) throw notFound('/' + parts.join('/'));
    return child;
  }

  private async listing(parts: string[]): Promise<Listing> {
    let ntfsPath = '/';
    let dir: Child | undefined;
    if (parts.length > 0) {
      dir = await this.resolve(parts);
      if (dir.ads || dir.entry.type !== 'directory') {
        throw new DiskarcError('ENOTDIR', `${dir.ntfsPath} is not a directory`, { path: dir.ntfsPath });
      }
      ntfsPath = dir.ntfsPath;
    }
    const cacheKey = this.key + ntfsPath;
    const cached = this.listings.get(cacheKey);
    if (cached) return cached;
    let p = this.pending.get(cacheKey);
    if (!p) {
      p = this.load(ntfsPath, dir?.entry.mftRecord).finally(() => this.pending.delete(cacheKey));
      this.pending.set(cacheKey, p);
    }
    const listing = await p;
    this.listings.set(cacheKey, listing);
    return listing;
  }

  private async load(ntfsPath: string, mftRecord?: number): Promise<Listing> {
    const vol = await this.vol();
    const entries =
      vol.fileRecordOf && vol.readdirRecord && mftRecord !== undefined
        ? await vol.readdirRecord(await vol.fileRecordOf(mftRecord))
        : await vol.readdir(ntfsPath);
    const base = ntfsPath === '/' ? '' : ntfsPath;
    const raw: Child[] = [];
    const names: string[] = [];
    for (const entry of entries) {
      raw.push({ ntfsPath: `${base}/${entry.name}`, entry });
      names.push(safeEntryName(entry.name));
    }
    // Alternate data streams follow all plain entries, so a plain name always wins a collision.
    for (const entry of entries) {
      for (const s of entry.streams ?? []) {
        raw.push({ ntfsPath: `${base}/${entry.name}:${s}`, entry, ads: s });
        names.push(safeEntryName(`${entry.name}:${s}`));
      }
    }
    const unique = uniqueNames(names);
    const children = new Map<string, Child>();
    unique.forEach((n, i) => {
      children.set(n, raw[i]);
    });
    return { children };
  }
}

/**
 * A link target as the mounted tree should resolve it: a drive-absolute target ("C:/dir/f",
 * as Windows stores it) becomes relative to the link's directory, so it points into the same
 * mounted volume instead of to a "C:" directory that does not exist.
 */
export function presentTarget(target: string, linkPath: string): string {
  const m = /^[A-Za-z]:\/?(.*)$/.exec(target);
  if (!m) return target;
  const depth = linkPath.split('/').filter(Boolean).length - 1;
  return '../'.repeat(depth) + m[1] || '.';
}

export function nodeOf(e: NtfsEntryLike, path: string, { ino, allocated, nlink }: Storage & { ino: number }): TreeNode {
  const base = { mtime: e.mtime, atime: e.atime ?? e.mtime, ctime: e.ctime ?? e.mtime, nlink, ino, allocated };
  if (e.type === 'directory') return { ...base, type: 'directory', size: 0, mode: DIR_MODE };
  if (e.type === 'symlink') {
    return { ...base, type: 'symlink', size: Buffer.byteLength(presentTarget(e.linkTarget ?? '', path)), mode: LINK_MODE };
  }
  return { ...base, type: 'file', size: e.size, mode: FILE_MODE };
}
