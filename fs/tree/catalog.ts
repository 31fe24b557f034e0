// Where the tree's top level comes from: a catalog of streams. An archive is one catalog; a list of
// raw image files is another (used by tests and by anything that wants the tree over plain files).
import { basename } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Archive } from '../../src/archive/archive.js';
import { FileBlockSource } from '../../src/block/file-source.js';
import type { BlockSource } from '../../src/block/source.js';
import { DiskarcError } from '../../src/errors.js';

export interface CatalogStream {
  /** Stable identifier (an archive's 16-hex stream id). */
  id: string;
  /** The user's name for it; made path-safe by the tree. */
  name: string;
  size: number;
  /** The time shown as the stream's mtime (pack time). */
  time: Date;
  /** Metadata shown in info.json. */
  info: Record<string, unknown>;
  /** Bytes stored as data (not holes, not fills), when the catalog knows without reading the map. */
  dataBytes?: number;
}

export interface StreamCatalog {
  /** A label for statfs / the mount table (the archive directory). */
  readonly label: string;
  /** Every stream, oldest first. */
  list(): Promise<CatalogStream[]>;
  /** Opens a stream by id; the tree keeps one open reader per stream and closes it at the end. */
  open(id: string): Promise<BlockSource>;
  close(): Promise<void>;
}

/** The streams of an archive; `only` restricts it to one resolved stream (mount -s). */
export function archiveCatalog(archive: Archive, only?: string): StreamCatalog {
  return {
    label: archive.dir,
    async list() {
      const infos = await archive.listStreams();
      return infos
        .filter((s) => only === undefined || s.id === only)
        .map((s) => ({
          id: s.id,
          name: s.name,
          size: s.size,
          time: new Date(s.packTime),
          info: { ...s },
          dataBytes: s.mappedSize - s.fillBytes,
        }));
    },
    open: (id) => archive.openStream(id),
    close: () => archive.close(),
  };
}

/** Raw image files as streams: id = their position ("0", "1"…), name = file name, time = file mtime. */
export function imageCatalog(paths: readonly string[]): StreamCatalog {
  return {
    label: paths.join(','),
    async list() {
      return Promise.all(
        paths.map(async (p, i) => {
          const st = await stat(p).catch((e) => {
            throw new DiskarcError('EINPUT', `cannot stat ${p}: ${(e as Error).message}`, { path: p });
          });
          return {
            id: String(i),
            name: basename(p),
            size: st.size,
            time: st.mtime,
            info: { id: String(i), name: basename(p), sourcePath: p, size: st.size },
          };
        }),
      );
    },
    async open(id) {
      const p = paths[Number(id)];
      if (p === undefined) throw new DiskarcError('ENOSTREAM', `no image ${id}`, { stream: id });
      return FileBlockSource.open(p);
    },
    async close() {},
  };
}
