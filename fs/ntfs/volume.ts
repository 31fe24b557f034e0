// An NTFS volume over any BlockSource: boot sector → $MFT (read through its own runlist) →
// file records (LRU-cached, never the whole $MFT) → directories, names, streams and links.
// Every structure is validated as it is read; anything inconsistent is DiskarcError('EFS').
import { LRUCache } from 'lru-cache';
import { readParts } from '../../src/block/parts.js';
import type { BlockSource, Extent } from '../../src/block/source.js';
import { DiskarcError, isDiskarcError } from '../../src/errors.js';
import { AttributeType, AttributeFlags } from './attribute.js';
import { AttributeSource, type StreamAttribute } from './attribute-stream.js';
import { parseBootSector, type Geometry } from './boot-sector.js';
import { COLLATION_FILENAME, parseIndexRecord, parseIndexRoot, type IndexEntry } from './dir-index.js';
import { FileAttributes, Namespace, parseFileName, parseStandardInformation, type FileName } from './file-name.js';
import { findAttribute, loadFileRecord, streamOf, type FileRecord } from './file-record.js';
import { corrupt } from './layout.js';
import { linkDestination, type LinkKind } from './link-path.js';
import { parseMftRecord, type MftRecord } from './mft-record.js';
import { parseReparsePoint, type Reparse } from './reparse.js';
import { UpcaseTable } from './upcase.js';
import { WOF_STREAM, WofSource } from './wof-stream.js';

export const SystemRecord = { MFT: 0, MFTMIRR: 1, LOGFILE: 2, VOLUME: 3, ROOT: 5, BITMAP: 6, UPCASE: 10, FIRST_USER: 16 } as const;

export type NtfsEntryType = 'file' | 'directory' | 'symlink';

export interface NtfsEntry {
  name: string;
  type: NtfsEntryType;
  /** Bytes of the unnamed $DATA stream (files and links; 0 for directories). */
  size: number;
  mtime: Date;
  atime: Date;
  ctime: Date;
  birthtime: Date;
  mftRecord: number;
  /** Names of the alternate data streams. */
  streams: string[];
  /** Byte sizes of the alternate data streams, by name. */
  streamSizes: Record<string, number>;
  linkTarget?: string;
  /** How a link is stored (set with linkTarget): a Windows symlink or junction, or an Interix file. */
  linkKind?: LinkKind;
  /** FILE_ATTRIBUTE_* bits from $STANDARD_INFORMATION. */
  attributes: number;
  /** Hard links to the record. */
  links: number;
  /** Set when the content cannot be read by this reader (encrypted). */
  unreadable?: string;
  /** How the content is compressed: 'LZNT1' (NTFS compression) or 'WOF <algorithm>' (compact files). */
  compression?: string;
}

export interface StatOptions {
  /** Follow the path's last component when it is a link (links before it are always followed). */
  follow?: boolean;
}

export interface ReaddirOptions {
  /** Include the $-prefixed metadata files of the root ($MFT, $Bitmap…), as fls does. */
  system?: boolean;
}

const MFT_BLOCK = 64 * 1024;
/** Windows uses 16-cluster units on ≤ 4 KiB clusters (64 KiB); larger ones are refused rather than allocated. */
const MAX_COMPRESSION_UNIT_BYTES = 1 << 20;
const MAX_DEPTH = 64;
const MAX_PATH_COMPONENTS = 4096;
/** Links followed while resolving one path before it is taken for a loop (Linux's MAXSYMLINKS). */
export const MAX_LINKS_FOLLOWED = 40;
/** Interix symlinks (what ntfs-3g's `ln -s` writes): a system file whose data is this magic + UTF-16 target. */
const INTERIX_SYMLINK = Buffer.from('IntxLNK\x01', 'latin1');

/** A block source view that turns reads past the device into EFS errors naming the volume structure. */
class VolumeDevice implements BlockSource {
  constructor(
    private readonly source: BlockSource,
    readonly size: number,
  ) {}
  async read(offset: number, length: number): Promise<Buffer> {
    this.checkInside(offset, length);
    return this.source.read(offset, length);
  }
  async readv(offset: number, length: number): Promise<Buffer[]> {
    this.checkInside(offset, length);
    return readParts(this.source, offset, length);
  }
  private checkInside(offset: number, length: number): void {
    if (offset + length > this.size || offset + length > this.source.size) {
      throw new DiskarcError(
        'EFS',
        `NTFS volume is truncated: read at ${offset}+${length} beyond the end of the device (${this.source.size} bytes)`,
        { offset, length },
      );
    }
  }
  extents(offset: number, length: number): Promise<Extent[]> {
    return this.source.extents(offset, length);
  }
  async close(): Promise<void> {}
}

interface Resolved {
  record: FileRecord;
  /** The directory entry's name, '' for the root. */
  name: string;
  /** Where it is: '/'-separated components from the root, links in the path replaced by their targets. */
  parts: string[];
  stream?: string;
}

/** Components of a '/'-separated volume path; `.` dropped, `..` applied (never above the root). */
function pathParts(path: string): string[] {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  if (parts.length > MAX_PATH_COMPONENTS) throw new DiskarcError('EUSAGE', `path has more than ${MAX_PATH_COMPONENTS} components`);
  return parts;
}

export class NtfsVolume {
  private readonly records: LRUCache<number, FileRecord>;
  // Promises, so that concurrent readers of records in one block share one read of it (a listing
  // of a large directory asks for thousands of records at once).
  private readonly mftBlocks = new LRUCache<number, Promise<Buffer>>({ max: 32 });
  private readonly indexBlocks = new LRUCache<string, IndexEntry[]>({ max: 256 });
  private mft!: AttributeSource;
  private upcaseTable!: UpcaseTable;
  private readonly device: VolumeDevice;
  label = '';

  private constructor(
    source: BlockSource,
    readonly geometry: Geometry,
    recordCache: number,
  ) {
    this.device = new VolumeDevice(source, geometry.volumeSize + geometry.bytesPerSector);
    this.records = new LRUCache({ max: recordCache });
  }

  /** Opens the NTFS volume at the start of `source`; EFS when it is not NTFS or is damaged. */
  static async open(source: BlockSource, opts: { recordCacheSize?: number } = {}): Promise<NtfsVolume> {
    if (source.size < 512) throw new DiskarcError('EFS', `not an NTFS volume (only ${source.size} bytes)`);
    const geometry = parseBootSector(await source.read(0, 512));
    const vol = new NtfsVolume(source, geometry, opts.recordCacheSize ?? 8192);
    await vol.loadMft();
    await vol.loadUpcase();
    await vol.loadLabel();
    return vol;
  }

  get clusterSize(): number {
    return this.geometry.clusterSize;
  }

  /** MFT records the $MFT data holds. */
  get recordCount(): number {
    return Math.floor(this.mft.size / this.geometry.mftRecordSize);
  }

  async close(): Promise<void> {
    this.records.clear();
    this.mftBlocks.clear();
    this.indexBlocks.clear();
  }

  // ---- public file API ----

  /**
   * The entry at `path`. Links inside the path are followed within the volume; the last
   * component is the link itself (as lstat) unless `follow`. Following fails with ENOTFOUND
   * for a target outside the volume or a loop (see link-path.ts and MAX_LINKS_FOLLOWED).
   */
  async stat(path: string, opts: StatOptions = {}): Promise<NtfsEntry> {
    const r = await this.resolve(path, opts.follow);
    return this.entryOf(r.record, r.name);
  }

  /** Where `path` is on the volume: '/' + its components, links in the path (and with `follow` the last) replaced by their targets. */
  async realpath(path: string, opts: StatOptions = {}): Promise<string> {
    return '/' + (await this.resolve(path, opts.follow)).parts.join('/');
  }

  /** Lists the directory at `path` (a link to a directory lists the directory, as opendir does). */
  async readdir(path: string, opts: ReaddirOptions = {}): Promise<NtfsEntry[]> {
    const r = await this.resolve(path, true);
    if (r.stream !== undefined) throw new DiskarcError('ENOTFOUND', `${path} is a stream, not a directory`, { path });
    return this.readdirRecord(r.record, opts);
  }

  /** Lists a directory given its record (used by tree walks to avoid re-resolving paths). */
  async readdirRecord(dir: FileRecord, opts: ReaddirOptions = {}): Promise<NtfsEntry[]> {
    if (!this.isDirectory(dir))
      throw new DiskarcError('ENOTFOUND', `MFT record ${dir.number} is not a directory`, { mftRecord: dir.number });
    const out: NtfsEntry[] = [];
    for (const e of await this.indexEntries(dir)) {
      const key = e.key!;
      if (key.namespace === Namespace.DOS) continue;
      if (e.record === dir.number) continue; // the root's "." entry
      if (dir.number === SystemRecord.ROOT && !opts.system && e.record < SystemRecord.FIRST_USER && key.name.startsWith('$')) continue;
      out.push(
        await this.entryOf(await this.fileRecordChecked(e.record, e.sequence, `${key.name} in directory record ${dir.number}`), key.name),
      );
    }
    return out;
  }

  /** The file record behind `path`, links followed (for tree walks: a link to a directory walks it). */
  async recordOf(path: string): Promise<FileRecord> {
    return (await this.resolve(path, true)).record;
  }

  async fileRecordOf(mftRecord: number): Promise<FileRecord> {
    return this.fileRecord(mftRecord);
  }

  /**
   * A file's content (or, with `path:stream`, an alternate data stream) as a BlockSource reading
   * through the volume's source; a link is followed to its target, as open(2) does (never its
   * stored bytes). EFS for encrypted and unsupported WOF-compressed files; EUSAGE for a directory.
   */
  async openFile(path: string): Promise<AttributeSource | WofSource> {
    const r = await this.resolve(path, true);
    return this.openStream(r.record, r.stream ?? '', path);
  }

  async openStream(rec: FileRecord, stream: string, path = `MFT record ${rec.number}`): Promise<AttributeSource | WofSource> {
    const data = findAttribute(rec, AttributeType.DATA, stream);
    if (!data) {
      if (stream === '' && this.isDirectory(rec)) throw new DiskarcError('EISDIR', `${path} is a directory, not a file`, { path });
      throw new DiskarcError('ENOTFOUND', stream ? `${path}: no stream named "${stream}"` : `${path} has no data stream`, { path });
    }
    if (data.flags & AttributeFlags.ENCRYPTED)
      throw new DiskarcError('EFS', `${path} is encrypted (EFS); its content cannot be read without the user's key`, { path });
    if (stream === '') {
      const reparse = await this.reparseOf(rec);
      if (reparse?.kind === 'wof') {
        const stored = findAttribute(rec, AttributeType.DATA, WOF_STREAM);
        if (!stored) throw new DiskarcError('EFS', `${path} is a Windows "compact" (WOF) file without a ${WOF_STREAM} stream`, { path });
        const storedSource = await this.openStream(rec, WOF_STREAM, path);
        return new WofSource(storedSource, data.dataSize, reparse.algorithm, `MFT record ${rec.number} ${WOF_STREAM}`);
      }
    }
    if (
      data.flags & AttributeFlags.COMPRESSED &&
      !data.resident &&
      (data.compressionUnit === 0 || this.clusterSize * 2 ** data.compressionUnit > MAX_COMPRESSION_UNIT_BYTES)
    ) {
      throw new DiskarcError(
        'EFS',
        `${path}: compressed attribute with unsupported compression unit ${data.compressionUnit} at cluster size ${this.clusterSize}`,
        { path },
      );
    }
    return new AttributeSource(
      this.device,
      this.clusterSize,
      streamOf(data),
      `MFT record ${rec.number} $DATA${stream ? ':' + stream : ''}`,
    );
  }

  async readlink(path: string): Promise<string> {
    const e = await this.stat(path);
    if (e.linkTarget === undefined) throw new DiskarcError('EUSAGE', `${path} is not a symbolic link or junction`, { path });
    return e.linkTarget;
  }

  /** Clusters marked in use in $Bitmap. */
  async allocatedClusters(): Promise<number> {
    let n = 0;
    for await (const run of this.usedClusterExtents()) n += run.count;
    return n;
  }

  /** Runs of clusters marked in use in $Bitmap, in ascending order (for used-only imaging). */
  async *usedClusterExtents(): AsyncGenerator<{ cluster: number; count: number }> {
    const bitmap = await this.openStream(await this.fileRecord(SystemRecord.BITMAP), '', '$Bitmap');
    const total = this.geometry.totalClusters;
    if (bitmap.size * 8 < total) throw corrupt('$Bitmap', `covers ${bitmap.size * 8} clusters, the volume has ${total}`);
    const CHUNK = 1 << 20;
    let start = -1;
    for (let byteOff = 0; byteOff * 8 < total; byteOff += CHUNK) {
      const buf = await bitmap.read(byteOff, Math.min(CHUNK, bitmap.size - byteOff));
      for (let i = 0; i < buf.length; i++) {
        const b = buf[i];
        const base = (byteOff + i) * 8;
        if (base >= total) break;
        if ((b === 0xff && start >= 0) || (b === 0 && start < 0)) continue;
        for (let bit = 0; bit < 8 && base + bit < total; bit++) {
          const used = (b >> bit) & 1;
          if (used && start < 0) start = base + bit;
          else if (!used && start >= 0) {
            yield { cluster: start, count: base + bit - start };
            start = -1;
          }
        }
      }
    }
    if (start >= 0) yield { cluster: start, count: total - start };
  }

  // ---- entries ----

  isDirectory(rec: FileRecord): boolean {
    return rec.isDirectory && findAttribute(rec, AttributeType.INDEX_ROOT, '$I30') !== undefined;
  }

  async entryOf(rec: FileRecord, name: string): Promise<NtfsEntry> {
    const what = `MFT record ${rec.number}`;
    const siAttr = findAttribute(rec, AttributeType.STANDARD_INFORMATION);
    const fnAttr = rec.attributes.find((a) => a.type === AttributeType.FILE_NAME && a.resident);
    const times = siAttr?.resident
      ? parseStandardInformation(siAttr.value!, `${what} $STANDARD_INFORMATION`)
      : fnAttr
        ? fileNameTimes(fnAttr.value!, what)
        : undefined;
    if (!times) throw corrupt(what, 'has neither $STANDARD_INFORMATION nor $FILE_NAME');
    const named = rec.attributes.filter((a) => a.type === AttributeType.DATA && a.name !== '');
    const streams = named.map((a) => a.name);
    const streamSizes = Object.fromEntries(named.map((a) => [a.name, a.dataSize]));
    const data = findAttribute(rec, AttributeType.DATA);
    const entry: NtfsEntry = {
      name,
      type: this.isDirectory(rec) ? 'directory' : 'file',
      size: 0,
      mtime: times.modified,
      atime: times.accessed,
      ctime: times.changed,
      birthtime: times.created,
      mftRecord: rec.number,
      streams,
      streamSizes,
      // Windows reports FILE_ATTRIBUTE_DIRECTORY, which $STANDARD_INFORMATION does not store.
      attributes: times.attributes | (this.isDirectory(rec) ? FileAttributes.DIRECTORY : 0),
      // The record's link count (Win32 and DOS names of one link count separately, as ntfs-3g shows);
      // directories cannot be hard-linked and report 1.
      links: this.isDirectory(rec) ? 1 : rec.linkCount,
    };
    if (entry.type === 'file') entry.size = data?.dataSize ?? 0;
    else if (data) entry.size = data.dataSize;
    const reparse = await this.reparseOf(rec);
    if (reparse?.kind === 'symlink' || reparse?.kind === 'junction') {
      entry.type = 'symlink';
      entry.linkTarget = reparse.target;
      entry.linkKind = reparse.kind;
    } else if (reparse?.kind === 'wof') {
      entry.compression = `WOF ${reparse.algorithm}`;
    } else if (
      entry.type === 'file' &&
      data &&
      times.attributes & FileAttributes.SYSTEM &&
      data.dataSize > 8 &&
      data.dataSize <= 8 + 2 * 4096
    ) {
      const target = await this.interixTarget(rec, data.dataSize);
      if (target !== undefined) {
        entry.type = 'symlink';
        entry.linkTarget = target;
        entry.linkKind = 'interix';
      }
    }
    if (data && data.flags & AttributeFlags.ENCRYPTED) entry.unreadable = 'encrypted (EFS)';
    if (data && data.flags & AttributeFlags.COMPRESSED) entry.compression = 'LZNT1';
    return entry;
  }

  private async reparseOf(rec: FileRecord): Promise<Reparse | undefined> {
    const attr = findAttribute(rec, AttributeType.REPARSE_POINT);
    if (!attr) return undefined;
    const what = `MFT record ${rec.number} $REPARSE_POINT`;
    if (attr.dataSize > 16384) throw corrupt(what, `size ${attr.dataSize} exceeds the 16 KiB limit`);
    const value = attr.resident ? attr.value! : await this.attributeValue(streamOf(attr), what);
    return parseReparsePoint(value, what);
  }

  private async interixTarget(rec: FileRecord, size: number): Promise<string | undefined> {
    const src = await this.openStream(rec, '', `MFT record ${rec.number}`).catch((e) => {
      if (isDiskarcError(e)) return undefined;
      throw e;
    });
    if (!src) return undefined;
    const buf = await src.read(0, size);
    if (!buf.subarray(0, 8).equals(INTERIX_SYMLINK) || (size - 8) % 2 !== 0) return undefined;
    return buf.toString('utf16le', 8);
  }

  // ---- path resolution ----

  /**
   * Walks `path` from the root. A link met before the last component (or at it, with
   * `followLast`) is replaced by its target, resolved within the volume, and the walk restarts
   * from the root with what is left of the path.
   */
  private async resolve(path: string, followLast = false): Promise<Resolved> {
    let parts = pathParts(path);
    let followed = 0;
    /** The last link followed, for messages about where a path led. */
    let via = '';
    restart: for (;;) {
      let rec = await this.fileRecord(SystemRecord.ROOT);
      let name = '';
      const walked: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        const last = i === parts.length - 1;
        const here = '/' + walked.join('/');
        if (!this.isDirectory(rec)) throw new DiskarcError('ENOTFOUND', `${path}: ${here} is not a directory${via}`, { path });
        let hit = await this.lookup(rec, parts[i]!);
        let stream: string | undefined;
        if (!hit && last && parts[i]!.includes(':')) {
          const colon = parts[i]!.indexOf(':');
          hit = await this.lookup(rec, parts[i]!.slice(0, colon));
          stream = parts[i]!.slice(colon + 1);
          if (stream.toUpperCase() === ':$DATA' || stream === '') stream = undefined;
          else stream = stream.replace(/:\$DATA$/i, '');
        }
        if (!hit) throw new DiskarcError('ENOTFOUND', `${path}: no such file or directory in the NTFS volume${via}`, { path });
        const parent = rec.number;
        rec = await this.fileRecordChecked(hit.record, hit.sequence, `${here === '/' ? '' : here}/${hit.key!.name}`);
        // Found through its DOS 8.3 alias: present the long name of the same link, as Windows does.
        name = hit.key!.namespace === Namespace.DOS ? (this.longNameIn(rec, parent) ?? hit.key!.name) : hit.key!.name;
        if (!last || followLast) {
          const link = await this.linkOf(rec, name);
          if (link) {
            const linkPath = '/' + [...walked, name].join('/');
            if (++followed > MAX_LINKS_FOLLOWED) {
              throw new DiskarcError(
                'ENOTFOUND',
                `${path}: too many levels of symbolic links (more than ${MAX_LINKS_FOLLOWED} followed, last ${linkPath}; a link loop?)`,
                { path, link: linkPath, reason: 'loop' },
              );
            }
            const dest = linkDestination(walked, link.target, link.kind);
            if (!dest.inside) {
              throw new DiskarcError(
                'ENOTFOUND',
                `${path}: link ${linkPath} -> ${link.target} points outside the NTFS volume (${dest.reason}); only links ` +
                  `within the volume are followed`,
                { path, link: linkPath, target: link.target, reason: 'outside' },
              );
            }
            const rest = parts.slice(i + 1);
            if (stream !== undefined) {
              if (!dest.parts.length)
                throw new DiskarcError('ENOTFOUND', `${path}: link ${linkPath} leads to the volume root, which has no stream "${stream}"`, {
                  path,
                });
              dest.parts[dest.parts.length - 1] += ':' + stream;
            }
            parts = [...dest.parts, ...rest];
            via = ` (following ${linkPath} -> ${link.target})`;
            continue restart;
          }
        }
        walked.push(name);
        if (last && stream !== undefined) {
          const found = rec.attributes.find((a) => a.type === AttributeType.DATA && a.name.toLowerCase() === stream!.toLowerCase());
          if (!found) throw new DiskarcError('ENOTFOUND', `${path}: /${walked.join('/')} has no stream named "${stream}"`, { path });
          return { record: rec, name, parts: walked, stream: found.name };
        }
      }
      return { record: rec, name, parts: walked };
    }
  }

  /** A record's link target and kind, or undefined when it is not a link. */
  private async linkOf(rec: FileRecord, name: string): Promise<{ target: string; kind: LinkKind } | undefined> {
    // Directories are links only by a reparse point; files may be Interix links too.
    if (this.isDirectory(rec) && !findAttribute(rec, AttributeType.REPARSE_POINT)) return undefined;
    const e = await this.entryOf(rec, name);
    return e.type === 'symlink' && e.linkTarget !== undefined ? { target: e.linkTarget, kind: e.linkKind ?? 'symlink' } : undefined;
  }

  /** The Win32/POSIX name a record has in directory `parent`. */
  private longNameIn(rec: FileRecord, parent: number): string | undefined {
    for (const a of rec.attributes) {
      if (a.type !== AttributeType.FILE_NAME || !a.resident) continue;
      const fn = parseFileName(a.value!, `MFT record ${rec.number} $FILE_NAME`);
      if (fn.parentRecord === parent && fn.namespace !== Namespace.DOS) return fn.name;
    }
    return undefined;
  }

  /** B-tree search of a directory for `name` under $UpCase collation; an exact-case match wins. */
  private async lookup(dir: FileRecord, name: string): Promise<IndexEntry | undefined> {
    const { root, readNode } = await this.indexOf(dir);
    const matches: IndexEntry[] = [];
    const visited = new Set<number>();
    const search = async (entries: IndexEntry[], depth: number): Promise<void> => {
      for (const e of entries) {
        const c = e.key ? this.upcaseTable.compare(name, e.key.name) : -1;
        if (c <= 0 && e.subnode !== undefined) {
          if (visited.has(e.subnode)) throw corrupt(`directory record ${dir.number} index`, `cycle at VCN ${e.subnode}`);
          visited.add(e.subnode);
          if (depth >= MAX_DEPTH) throw corrupt(`directory record ${dir.number} index`, 'B-tree is deeper than 64 levels');
          await search(await readNode(e.subnode), depth + 1);
        }
        if (c === 0) matches.push(e);
        if (c < 0) return;
      }
    };
    await search(root, 0);
    return matches.find((m) => m.key!.name === name) ?? matches.find((m) => m.key!.namespace !== Namespace.DOS) ?? matches[0];
  }

  /** Every entry of a directory's $I30 index in collation order (tree walk, cycle-checked). */
  private async indexEntries(dir: FileRecord): Promise<IndexEntry[]> {
    const { root, readNode } = await this.indexOf(dir);
    const out: IndexEntry[] = [];
    const visited = new Set<number>();
    const walk = async (entries: IndexEntry[], depth: number): Promise<void> => {
      for (const e of entries) {
        if (e.subnode !== undefined) {
          if (visited.has(e.subnode)) throw corrupt(`directory record ${dir.number} index`, `cycle at VCN ${e.subnode}`);
          visited.add(e.subnode);
          if (depth >= MAX_DEPTH) throw corrupt(`directory record ${dir.number} index`, 'B-tree is deeper than 64 levels');
          await walk(await readNode(e.subnode), depth + 1);
        }
        if (e.key) out.push(e);
      }
    };
    await walk(root, 0);
    return out;
  }

  private async indexOf(dir: FileRecord): Promise<{ root: IndexEntry[]; readNode: (vcn: number) => Promise<IndexEntry[]> }> {
    const what = `directory record ${dir.number} $INDEX_ROOT`;
    const rootAttr = findAttribute(dir, AttributeType.INDEX_ROOT, '$I30');
    if (!rootAttr?.resident) throw corrupt(what, 'is missing or non-resident');
    const root = parseIndexRoot(rootAttr.value!, what);
    if (root.attributeType !== AttributeType.FILE_NAME || root.collationRule !== COLLATION_FILENAME) {
      throw corrupt(what, `indexes attribute 0x${root.attributeType.toString(16)} with collation ${root.collationRule}, not file names`);
    }
    const size = root.indexRecordSize;
    if (size < 512 || size > 65536 || (size & (size - 1)) !== 0) throw corrupt(what, `index record size ${size} is invalid`);
    const allocAttr = findAttribute(dir, AttributeType.INDEX_ALLOCATION, '$I30');
    const alloc = allocAttr
      ? new AttributeSource(this.device, this.clusterSize, streamOf(allocAttr), `directory record ${dir.number} $INDEX_ALLOCATION`)
      : undefined;
    const vcnUnit = size >= this.clusterSize ? this.clusterSize : 512;
    // $BITMAP ($I30) marks the INDX blocks in use; an entry pointing at a free block is corrupt.
    const bitmapAttr = findAttribute(dir, AttributeType.BITMAP, '$I30');
    let inUse: Buffer | undefined;
    const readNode = async (vcn: number): Promise<IndexEntry[]> => {
      const at = `directory record ${dir.number} INDX block at VCN ${vcn}`;
      const key = `${dir.number}:${dir.sequence}:${vcn}`;
      const hit = this.indexBlocks.get(key);
      if (hit) return hit;
      if (!alloc) throw corrupt(at, 'is referenced but the directory has no $INDEX_ALLOCATION');
      const off = vcn * vcnUnit;
      if (!Number.isSafeInteger(off) || off % size !== 0 || off + size > alloc.size)
        throw corrupt(at, `lies outside $INDEX_ALLOCATION (${alloc.size} bytes)`);
      if (bitmapAttr) {
        if (!inUse) {
          const need = Math.ceil(alloc.size / size / 8);
          if (bitmapAttr.dataSize > need + 8)
            throw corrupt(`directory record ${dir.number} $BITMAP`, `size ${bitmapAttr.dataSize} does not fit $INDEX_ALLOCATION`);
          inUse = bitmapAttr.resident
            ? bitmapAttr.value!
            : await this.attributeValue(streamOf(bitmapAttr), `directory record ${dir.number} $BITMAP`);
        }
        const block = off / size;
        if (block >= inUse.length * 8 || !(inUse[block >> 3] & (1 << (block & 7))))
          throw corrupt(at, 'is referenced but marked free in $BITMAP');
      }
      const entries = parseIndexRecord(await alloc.read(off, size), vcn, at);
      this.indexBlocks.set(key, entries);
      return entries;
    };
    return { root: root.entries, readNode };
  }

  // ---- records ----

  /** The file record `n`, checking the sequence number a directory entry expects. */
  private async fileRecordChecked(n: number, sequence: number, what: string): Promise<FileRecord> {
    const rec = await this.fileRecord(n);
    if (sequence !== 0 && rec.sequence !== sequence) {
      throw corrupt(what, `directory entry expects MFT record ${n} sequence ${sequence}, the record has ${rec.sequence}`);
    }
    return rec;
  }

  private async fileRecord(n: number): Promise<FileRecord> {
    const hit = this.records.get(n);
    if (hit) return hit;
    const rec = await loadFileRecord(await this.record(n), this);
    this.records.set(n, rec);
    return rec;
  }

  /** One raw MFT record, parsed (fixups applied to a private copy). */
  async record(n: number): Promise<MftRecord> {
    const size = this.geometry.mftRecordSize;
    if (!Number.isSafeInteger(n) || n < 0 || n >= this.recordCount)
      throw corrupt(`MFT record ${n}`, `is beyond the end of $MFT (${this.recordCount} records)`);
    const blockSize = Math.max(MFT_BLOCK, size);
    const block = Math.floor((n * size) / blockSize);
    let pending = this.mftBlocks.get(block);
    if (!pending) {
      const off = block * blockSize;
      pending = this.mft.read(off, Math.min(blockSize, this.mft.size - off));
      this.mftBlocks.set(block, pending);
      pending.catch(() => this.mftBlocks.get(block) === pending && this.mftBlocks.delete(block));
    }
    const buf = await pending;
    const at = n * size - block * blockSize;
    return parseMftRecord(Buffer.from(buf.subarray(at, at + size)), n, this.geometry.totalClusters);
  }

  async attributeValue(attr: StreamAttribute, what: string): Promise<Buffer> {
    const src = new AttributeSource(this.device, this.clusterSize, attr, what);
    return src.read(0, src.size);
  }

  private async loadMft(): Promise<void> {
    const g = this.geometry;
    // Bootstrap: record 0 sits at the start of the first $MFT run, named by the boot sector.
    const raw = await this.device.read(g.mftCluster * g.clusterSize, g.mftRecordSize);
    const rec0 = parseMftRecord(raw, SystemRecord.MFT, g.totalClusters);
    if (!rec0.inUse) throw corrupt('MFT record 0 ($MFT)', 'is not in use');
    const first = rec0.attributes.find((a) => a.type === AttributeType.DATA && a.name === '' && !a.resident && a.firstVcn === 0);
    if (!first) throw corrupt('MFT record 0 ($MFT)', 'has no non-resident $DATA attribute');
    if (first.dataSize < g.mftRecordSize * SystemRecord.FIRST_USER)
      throw corrupt('MFT record 0 ($MFT)', `$DATA size ${first.dataSize} is too small`);
    const bootstrap = { ...streamOf(first), runs: first.runs };
    // The first fragment maps at least VCN 0..lastVcn; reading past it fails cleanly via runAt.
    this.mft = new AttributeSource(
      this.device,
      g.clusterSize,
      {
        ...bootstrap,
        dataSize: Math.min(first.dataSize, (first.lastVcn + 1) * g.clusterSize),
        validDataSize: Math.min(first.validDataSize, (first.lastVcn + 1) * g.clusterSize),
      },
      '$MFT $DATA',
    );
    const full = await loadFileRecord(rec0, this);
    const data = findAttribute(full, AttributeType.DATA);
    if (!data || data.resident) throw corrupt('MFT record 0 ($MFT)', 'has no non-resident $DATA attribute');
    this.mft = new AttributeSource(this.device, g.clusterSize, streamOf(data), '$MFT $DATA');
    this.mftBlocks.clear();
    this.records.set(SystemRecord.MFT, full);
  }

  private async loadUpcase(): Promise<void> {
    const rec = await this.fileRecord(SystemRecord.UPCASE);
    const src = await this.openStream(rec, '', '$UpCase');
    if (src.size !== 131072) throw corrupt('$UpCase', `size ${src.size} is not 131072 bytes`);
    this.upcaseTable = UpcaseTable.fromData(await src.read(0, src.size));
  }

  private async loadLabel(): Promise<void> {
    const rec = await this.fileRecord(SystemRecord.VOLUME);
    const attr = findAttribute(rec, AttributeType.VOLUME_NAME);
    if (attr?.resident) this.label = attr.value!.toString('utf16le');
  }

  get upcase(): UpcaseTable {
    return this.upcaseTable;
  }
}

function fileNameTimes(value: Buffer, what: string) {
  const fn: FileName = parseFileName(value, `${what} $FILE_NAME`);
  return { created: fn.modified, modified: fn.modified, changed: fn.modified, accessed: fn.modified, attributes: fn.flags };
}
