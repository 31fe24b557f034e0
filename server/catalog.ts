// The export catalog of a serve process: which disks it serves and under which names. Every
// protocol asks it for a BlockSource by name; sources are opened once, on first use, and shared
// by all connections and protocols (they read through the archive's one slab cache).
// Names: a stream answers to its id and its name (the newest stream of a name owns it); partitions join as NAME/pN, ID/pN.
// A catalog given `refresh` follows a growing archive: the disk list is re-read (at most every
// refreshMs) when a client lists or opens exports, as the FUSE tree re-reads its top level.
import type { BlockSource } from '../src/block/source.js';
import { formatBytes } from '../src/format-bytes.js';
import { DiskarcError } from '../src/errors.js';
import type { NbdExport, NbdExportCatalog, NbdExportEntry } from '../protocols/nbd/exports.js';

/** A whole disk the process serves (an archived stream, or a raw image in tests and tools). */
export interface ServedDisk {
  /** Stable id (a stream id); also accepted as an export name. */
  id: string;
  /** Human name; accepted as an export name when no other disk shares it. */
  name: string;
  size: number;
  /** Extra text for descriptions (pack time, source path…). */
  note?: string;
  /** For file-tree views (WebDAV): the disk's time (pack time), metadata, stored data bytes. */
  time?: Date;
  info?: Record<string, unknown>;
  dataBytes?: number;
  open(): Promise<BlockSource>;
}

/** One partition of a disk, as a window over the disk's source. */
export interface ServedPartition {
  /** 1-based, as in `pN`. */
  index: number;
  size: number;
  note?: string;
  source: BlockSource;
}

/** Finds the partitions of a disk (null/empty when it has no partition table). */
export type PartitionLister = (disk: BlockSource) => Promise<ServedPartition[]>;

interface Entry {
  /** Canonical export name. */
  name: string;
  description: string;
  disk: ServedDisk;
  partition?: number;
}

export interface CatalogOptions {
  /** Lists partitions so they are served as NAME/pN; omit to serve whole disks only. */
  partitions?: PartitionLister;
  /** The export that answers to '' (the default export); by default the only disk, if just one. */
  defaultExport?: string;
  /** Re-reads the disks served (streams committed or removed since); omit for a fixed set. */
  refresh?: () => Promise<ServedDisk[]>;
  /** A listing at most this old is reused (default REFRESH_MS). */
  refreshMs?: number;
  /** Told what a refresh changed (disks added and removed, by id). */
  onChange?: (added: ServedDisk[], removed: ServedDisk[]) => void;
  /** Told why a refresh failed; the last listing stays in force and the next request retries. */
  onRefreshError?: (e: unknown) => void;
}

/** How stale the disk list of a refreshing catalog may be: a new stream is served within this. */
export const REFRESH_MS = 2000;

export class ExportCatalog implements NbdExportCatalog {
  private readonly sources = new Map<string, Promise<BlockSource>>();
  private readonly partitionLists = new Map<string, Promise<ServedPartition[]>>();
  private byName = new Map<string, Entry>();
  private disks: ServedDisk[] = [];
  /** Sources of removed disks: connections may still read them, so they close with the catalog. */
  private readonly retired: Array<Promise<BlockSource>> = [];
  private listedAt = Date.now();
  private refreshing: Promise<void> | undefined;
  private closed = false;

  constructor(
    disks: ServedDisk[],
    private readonly opts: CatalogOptions = {},
  ) {
    this.index(disks);
  }

  /** Builds the name index. A name shared by several disks belongs to the last one (the newest stream, as `-s NAME` resolves it). */
  private index(disks: ServedDisk[]): void {
    const byName = new Map<string, Entry>();
    const owner = new Map<string, ServedDisk>();
    for (const d of disks) owner.set(d.name, d);
    for (const d of disks) {
      const unique = owner.get(d.name) === d && d.name !== d.id && d.name !== '' && !/\/p[1-9]\d*$/.test(d.name);
      const canonical = unique ? d.name : d.id;
      const description = `${unique ? `stream ${d.id}` : `stream "${d.name}"`}, ${formatBytes(d.size)}${d.note ? `, ${d.note}` : ''}`;
      const entry = { name: canonical, description, disk: d };
      byName.set(d.id, entry);
      if (unique) byName.set(d.name, entry);
    }
    this.disks = disks;
    this.byName = byName;
  }

  /** Re-reads the disk list when it is older than refreshMs; concurrent callers share one re-read. */
  private async current(): Promise<void> {
    const refresh = this.opts.refresh;
    if (!refresh || this.closed || Date.now() - this.listedAt < (this.opts.refreshMs ?? REFRESH_MS)) return;
    this.refreshing ??= (async () => {
      try {
        this.apply(await refresh());
      } catch (e) {
        this.opts.onRefreshError?.(e);
      } finally {
        // A failure is retried after the same interval, not by every request.
        this.listedAt = Date.now();
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }

  private apply(next: ServedDisk[]): void {
    if (this.closed) return;
    const before = new Map(this.disks.map((d) => [d.id, d]));
    const after = new Set(next.map((d) => d.id));
    const added = next.filter((d) => !before.has(d.id));
    const removed = this.disks.filter((d) => !after.has(d.id));
    for (const d of removed) {
      const source = this.sources.get(d.id);
      if (source) this.retired.push(source);
      this.sources.delete(d.id);
      this.partitionLists.delete(d.id);
    }
    // Known disks keep their objects (and so their open sources); new ones join in listing order.
    this.index(next.map((d) => before.get(d.id) ?? d));
    if (added.length > 0 || removed.length > 0) this.opts.onChange?.(added, removed);
  }

  get diskCount(): number {
    return this.disks.length;
  }

  /** Whole disks first (by name, then by id), then each disk's partitions. */
  async list(): Promise<NbdExportEntry[]> {
    await this.current();
    const out: NbdExportEntry[] = [];
    for (const d of this.disks) {
      const entry = this.byName.get(d.id)!;
      out.push({ name: entry.name, description: entry.description, size: d.size });
      if (entry.name !== d.id) out.push({ name: d.id, description: `same disk as "${entry.name}"`, size: d.size });
    }
    for (const d of this.disks) {
      const entry = this.byName.get(d.id)!;
      for (const p of await this.partitionsOf(d).catch(() => [])) {
        out.push({ name: `${entry.name}/p${p.index}`, description: partitionDescription(entry.name, p), size: p.size });
      }
    }
    return out;
  }

  async open(name: string): Promise<NbdExport | undefined> {
    if (this.closed) return undefined;
    await this.current();
    const resolved = name === '' ? this.defaultName() : name;
    if (resolved === undefined) return undefined;
    const whole = this.byName.get(resolved);
    if (whole) {
      // An alias (the id) is its own export name, as NBD_OPT_LIST shows it; '' takes the canonical one.
      const description = resolved === whole.name || name === '' ? whole.description : `same disk as "${whole.name}"`;
      return { name: name === '' ? whole.name : resolved, description, source: await this.sourceOf(whole.disk) };
    }
    const m = /^(.*)\/p([1-9]\d*)$/.exec(resolved);
    if (!m) return undefined;
    const entry = this.byName.get(m[1]!);
    if (!entry) return undefined;
    const part = (await this.partitionsOf(entry.disk).catch(() => [])).find((p) => p.index === Number(m[2]));
    if (!part) return undefined;
    return { name: `${entry.name}/p${part.index}`, description: partitionDescription(entry.name, part), source: part.source };
  }

  /** The disks served now (re-listed as `list` does), oldest first: for file-tree views. */
  async currentDisks(): Promise<ServedDisk[]> {
    await this.current();
    return [...this.disks];
  }

  /** The shared source of a disk listed by `currentDisks` (the one every protocol reads). */
  diskSource(disk: ServedDisk): Promise<BlockSource> {
    if (this.closed) return Promise.reject(new DiskarcError('ESERVER', 'the export catalog is closed (the server is stopping)'));
    return this.sourceOf(disk);
  }

  /** Closes every opened source; further opens find nothing. */
  async close(): Promise<void> {
    this.closed = true;
    await this.refreshing;
    const opened = [...this.sources.values(), ...this.retired.splice(0)];
    this.sources.clear();
    await Promise.allSettled(opened.map(async (p) => (await p).close()));
  }

  private defaultName(): string | undefined {
    if (this.opts.defaultExport !== undefined) return this.opts.defaultExport;
    return this.disks.length === 1 ? this.disks[0]!.id : undefined;
  }

  private sourceOf(disk: ServedDisk): Promise<BlockSource> {
    let p = this.sources.get(disk.id);
    if (!p) {
      p = disk.open();
      // A failed open is retried by the next client rather than cached forever.
      p.catch(() => this.sources.delete(disk.id));
      this.sources.set(disk.id, p);
    }
    return p;
  }

  private partitionsOf(disk: ServedDisk): Promise<ServedPartition[]> {
    const lister = this.opts.partitions;
    if (!lister) return Promise.resolve([]);
    let p = this.partitionLists.get(disk.id);
    if (!p) {
      p = this.sourceOf(disk).then(lister);
      p.catch(() => this.partitionLists.delete(disk.id));
      this.partitionLists.set(disk.id, p);
    }
    return p;
  }
}

function partitionDescription(diskName: string, p: ServedPartition): string {
  return `partition ${p.index} of "${diskName}", ${formatBytes(p.size)}${p.note ? `, ${p.note}` : ''}`;
}
