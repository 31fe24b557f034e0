// The virtual tree over a catalog of streams (docs/mount.md):
//   /<stream>/disk.img   /<stream>/pN.img   /<stream>/pN/… (NTFS)   /<stream>/fs/… (bare NTFS)
//   /<stream>/info.json
// Everything is lazy: the root lists the catalog; a stream's partition table is read when a path
// in its directory is first touched; an NTFS volume is opened when a path below pN/ is touched.
import type { BlockSource } from '../../src/block/source.js';
import { DiskarcError, isDiskarcError } from '../../src/errors.js';
import { detectFilesystem, openPartition, readPartitionTable, type Partition, type PartitionTable } from '../partitions/index.js';
import { BorrowedSource, BufferSource } from './buffer-source.js';
import type { CatalogStream, StreamCatalog } from './catalog.js';
import { InodeNumbers, ROOT_INO } from './inode-numbers.js';
import { escapeName, uniqueNames } from './names.js';
import { createListingCache, NtfsSubtree } from './ntfs-subtree.js';
import { defaultNtfsOpener, type NtfsOpener } from './ntfs-provider.js';
import { DIR_MODE, FILE_MODE, splitPath, type DirEntry, type TreeNode, type VirtualTree } from './types.js';

export interface StreamTreeOptions {
  /** Present one stream's directory as the root (mount -s). */
  singleStream?: boolean;
  /** Opens NTFS volumes (default: fs/ntfs's NtfsVolume.open, loaded on first use). */
  openNtfs?: NtfsOpener;
  /** How long the root listing is reused before the catalog is asked again (new streams appear). */
  rootRefreshMs?: number;
  /** Bound on cached NTFS directory entries across all volumes. */
  listingCacheEntries?: number;
  /** Partitions up to this size get st_blocks from a walk of their extents (default 1 GiB). */
  exactAllocationBytes?: number;
}

/** Filesystems whose files the tree presents (the others are served as pN.img only). */
const BROWSABLE = new Set(['ntfs']);
/** Partitions up to this size get their st_blocks from a walk of their extents (once per mount). */
// The bound keeps that walk well under a second even cold (timings: docs/bench.md).
const EXACT_ALLOCATION_BYTES = 1024 ** 3;
/** Directory of a stream that is itself a filesystem (no partition table). */
export const BARE_FS_DIR = 'fs';

type StreamChild =
  | { kind: 'disk' }
  | { kind: 'info'; data: Buffer }
  | { kind: 'partition'; partition: Partition }
  | { kind: 'filesystem'; subtree: NtfsSubtree };

interface StreamState {
  stream: CatalogStream;
  source?: Promise<BlockSource>;
  layout?: Promise<Map<string, StreamChild>>;
  /** Stored bytes of disk.img and each pN.img, by name: summed from the stream's extents once. */
  allocated: Map<string, Promise<number>>;
}

function notFound(path: string): DiskarcError {
  return new DiskarcError('ENOTFOUND', `${path}: no such file or directory`, { path });
}

function notDirectory(path: string): DiskarcError {
  return new DiskarcError('ENOTDIR', `${path}: not a directory`, { path });
}

export class StreamTree implements VirtualTree {
  private readonly states = new Map<string, StreamState>();
  private readonly listings;
  private root?: { at: number; names: Map<string, CatalogStream>; streams: CatalogStream[] };
  private rootLoad?: Promise<Map<string, CatalogStream>>;
  private readonly mountTime = new Date();
  private readonly inodes = new InodeNumbers();

  constructor(
    readonly catalog: StreamCatalog,
    private readonly opts: StreamTreeOptions = {},
  ) {
    this.listings = createListingCache(opts.listingCacheEntries);
  }

  // ---- VirtualTree ----

  async lookup(path: string): Promise<TreeNode> {
    const parts = splitPath(path);
    if (parts.length === 0) return this.dirNode(await this.rootTime(), ROOT_INO);
    const { state, rest } = await this.streamFor(parts, path);
    const id = state.stream.id;
    if (rest.length === 0) return this.dirNode(state.stream.time, this.opts.singleStream ? ROOT_INO : this.inodes.of(id));
    const child = (await this.layout(state)).get(rest[0]);
    if (!child) throw notFound(path);
    const t = state.stream.time;
    const ino = () => this.inodes.of(`${id}/${rest[0]}`);
    switch (child.kind) {
      case 'disk':
        if (rest.length > 1) throw notDirectory(path);
        return this.fileNode(
          state.stream.size,
          t,
          ino(),
          state.stream.dataBytes ?? (await this.allocated(state, rest[0], async () => this.source(state))),
        );
      case 'info':
        if (rest.length > 1) throw notDirectory(path);
        return this.fileNode(child.data.length, t, ino(), child.data.length);
      case 'partition':
        if (rest.length > 1) throw notDirectory(path);
        return this.fileNode(
          this.partitionSize(state, child.partition),
          t,
          ino(),
          await this.partitionAllocated(state, rest[0], child.partition),
        );
      case 'filesystem':
        // The directory itself is shown without opening the volume; below it the volume is opened.
        if (rest.length === 1) return this.dirNode(t, child.subtree.rootIno);
        return child.subtree.lookup(rest.slice(1));
    }
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const parts = splitPath(path);
    if (parts.length === 0 && !this.opts.singleStream) {
      const names = await this.rootNames();
      return [...names].map(([name, s]) => ({ name, node: this.dirNode(s.time, this.inodes.of(s.id)) }));
    }
    const { state, rest } = await this.streamFor(parts, path);
    const layout = await this.layout(state);
    if (rest.length === 0) {
      return Promise.all([...layout.keys()].map(async (name) => ({ name, node: await this.lookup(joinPath(parts, name)) })));
    }
    const child = layout.get(rest[0]);
    if (!child) throw notFound(path);
    if (child.kind !== 'filesystem') throw notDirectory(path);
    return child.subtree.readdir(rest.slice(1));
  }

  async open(path: string): Promise<BlockSource> {
    const parts = splitPath(path);
    if (parts.length === 0) throw new DiskarcError('EISDIR', '/ is a directory', { path });
    const { state, rest } = await this.streamFor(parts, path);
    if (rest.length === 0) throw new DiskarcError('EISDIR', `${path} is a directory`, { path });
    const child = (await this.layout(state)).get(rest[0]);
    if (!child) throw notFound(path);
    switch (child.kind) {
      case 'disk':
        if (rest.length > 1) throw notDirectory(path);
        return new BorrowedSource(await this.source(state));
      case 'info':
        if (rest.length > 1) throw notDirectory(path);
        return new BufferSource(child.data);
      case 'partition':
        if (rest.length > 1) throw notDirectory(path);
        // A window never closes its parent, so it is already a per-handle view.
        return openPartition(await this.source(state), child.partition);
      case 'filesystem':
        if (rest.length === 1) throw new DiskarcError('EISDIR', `${path} is a directory`, { path });
        return child.subtree.open(rest.slice(1));
    }
  }

  async readlink(path: string): Promise<string> {
    const parts = splitPath(path);
    const { state, rest } = await this.streamFor(parts, path);
    const child = rest.length > 1 ? (await this.layout(state)).get(rest[0]) : undefined;
    if (child?.kind !== 'filesystem') throw new DiskarcError('EFS', `${path} is not a symlink`, { path });
    return child.subtree.readlink(rest.slice(1));
  }

  async stats(): Promise<{ files: number; bytes: number }> {
    const names = await this.rootNames();
    let bytes = 0;
    for (const s of names.values()) bytes += s.size;
    return { files: names.size, bytes };
  }

  async close(): Promise<void> {
    const sources = [...this.states.values()].map((s) => s.source).filter((s): s is Promise<BlockSource> => s !== undefined);
    this.states.clear();
    await Promise.allSettled(sources.map(async (p) => (await p).close()));
    await this.catalog.close();
  }

  // ---- the top level ----

  /** Safe, unique names of the streams (ids for nameless ones), refreshed every few seconds. */
  private async rootNames(): Promise<Map<string, CatalogStream>> {
    const ttl = this.opts.rootRefreshMs ?? 2000;
    if (this.root && Date.now() - this.root.at < ttl) return this.root.names;
    this.rootLoad ??= (async () => {
      try {
        const streams = await this.catalog.list();
        const names = uniqueNames(streams.map((s) => escapeName(s.name || s.id)));
        const map = new Map<string, CatalogStream>();
        names.forEach((n, i) => {
          map.set(n, streams[i]);
        });
        this.root = { at: Date.now(), names: map, streams };
        return map;
      } finally {
        this.rootLoad = undefined;
      }
    })();
    return this.rootLoad;
  }

  private async rootTime(): Promise<Date> {
    const names = await this.rootNames();
    let t = 0;
    for (const s of names.values()) t = Math.max(t, s.time.getTime());
    return t > 0 ? new Date(t) : this.mountTime;
  }

  /** Finds the stream a path starts in: by its listed name, or (unlisted alias) by its full id. */
  private async streamFor(parts: string[], path: string): Promise<{ state: StreamState; rest: string[] }> {
    const names = await this.rootNames();
    if (this.opts.singleStream) {
      const only = [...names.values()][0];
      if (!only) throw notFound(path);
      return { state: this.state(only), rest: parts };
    }
    let stream = names.get(parts[0]);
    if (!stream && /^[0-9a-f]{16}$/.test(parts[0])) stream = this.root?.streams.find((s) => s.id === parts[0]);
    if (!stream) throw notFound(path);
    return { state: this.state(stream), rest: parts.slice(1) };
  }

  private state(stream: CatalogStream): StreamState {
    let st = this.states.get(stream.id);
    if (!st) {
      st = { stream, allocated: new Map() };
      this.states.set(stream.id, st);
    }
    return st;
  }

  private source(state: StreamState): Promise<BlockSource> {
    if (!state.source) {
      state.source = this.catalog.open(state.stream.id);
      state.source.catch(() => (state.source = undefined));
    }
    return state.source;
  }

  // ---- one stream's directory ----

  private layout(state: StreamState): Promise<Map<string, StreamChild>> {
    if (!state.layout) {
      state.layout = this.buildLayout(state);
      state.layout.catch(() => (state.layout = undefined));
    }
    return state.layout;
  }

  private async buildLayout(state: StreamState): Promise<Map<string, StreamChild>> {
    const source = await this.source(state);
    const warnings: string[] = [];
    let table: PartitionTable | null = null;
    try {
      table = await readPartitionTable(source);
    } catch (e) {
      // A damaged table must not hide the disk: disk.img and info.json still appear.
      if (!isDiskarcError(e, 'EFS')) throw e;
      warnings.push(`partition table: ${e.message}`);
    }
    const layout = new Map<string, StreamChild>();
    layout.set('disk.img', { kind: 'disk' });
    let filesystem: string | undefined;
    if (table) {
      for (const p of table.partitions) {
        if (p.extended) continue;
        layout.set(`p${p.index}.img`, { kind: 'partition', partition: p });
        if (p.filesystem && BROWSABLE.has(p.filesystem)) {
          const window = openPartition(source, p);
          layout.set(`p${p.index}`, { kind: 'filesystem', subtree: this.subtree(`${state.stream.id}/p${p.index}`, window) });
        }
      }
    } else {
      filesystem = await detectFilesystem(source);
      if (filesystem && BROWSABLE.has(filesystem)) {
        layout.set(BARE_FS_DIR, { kind: 'filesystem', subtree: this.subtree(`${state.stream.id}/${BARE_FS_DIR}`, source) });
      }
    }
    const info = {
      stream: state.stream.info,
      partitionTable: table,
      ...(table ? {} : { filesystem: filesystem ?? null }),
      ...(warnings.length ? { warnings } : {}),
    };
    layout.set('info.json', { kind: 'info', data: Buffer.from(JSON.stringify(info, null, 2) + '\n') });
    return layout;
  }

  private subtree(key: string, source: BlockSource): NtfsSubtree {
    return new NtfsSubtree(
      key,
      async () => {
        const open = this.opts.openNtfs ?? (await defaultNtfsOpener());
        return open(source);
      },
      this.listings,
      this.inodes,
    );
  }

  /**
   * A partition's stored bytes: summed from its extents when it is small enough for that to be
   * quick (the map holds an entry per ~4 KiB chunk); above, an upper bound — the whole stream's
   * data, if less than the partition — which still shows a sparse partition as sparse.
   */
  private async partitionAllocated(state: StreamState, name: string, p: Partition): Promise<number> {
    const size = this.partitionSize(state, p);
    const data = state.stream.dataBytes;
    if (data !== undefined && size > (this.opts.exactAllocationBytes ?? EXACT_ALLOCATION_BYTES)) return Math.min(size, data);
    return this.allocated(state, name, async () => openPartition(await this.source(state), p));
  }

  /**
   * Bytes of an image the archive stores: its data extents. Holes and zero fills take nothing,
   * as in a sparse file, so du and cp --sparse=auto see them (libfuse 2 cannot answer SEEK_HOLE).
   */
  private allocated(state: StreamState, name: string, open: () => Promise<BlockSource>): Promise<number> {
    let p = state.allocated.get(name);
    if (!p) {
      p = (async () => {
        const src = await open();
        let bytes = 0;
        for (const e of await src.extents(0, src.size)) if (e.kind === 'data') bytes += e.length;
        return bytes;
      })();
      state.allocated.set(name, p);
      p.catch(() => state.allocated.delete(name));
    }
    return p;
  }

  private partitionSize(state: StreamState, p: Partition): number {
    // The window is clipped to the disk, so the size shown is the bytes a reader gets.
    return Math.max(0, Math.min(p.size, state.stream.size - p.start));
  }

  private dirNode(t: Date, ino: number): TreeNode {
    return { type: 'directory', size: 0, mtime: t, atime: t, ctime: t, mode: DIR_MODE, nlink: 1, ino, allocated: 0 };
  }

  private fileNode(size: number, t: Date, ino: number, allocated: number): TreeNode {
    return { type: 'file', size, mtime: t, atime: t, ctime: t, mode: FILE_MODE, nlink: 1, ino, allocated };
  }
}

function joinPath(parts: string[], name: string): string {
  return '/' + [...parts, name].join('/');
}
