// The virtual file tree (fs/tree, the one `diskarc mount` presents) over the serve process's
// export catalog: the same streams, read through the same shared sources and slab cache, so the
// file-level protocols (WebDAV) and the block-level ones (NBD) never disagree.
import { StreamTree, type StreamCatalog } from '../fs/tree/index.js';
import { BorrowedSource } from '../fs/tree/buffer-source.js';
import { DiskarcError } from '../src/errors.js';
import type { ExportCatalog } from './catalog.js';

/** When a disk brings no time of its own (never for archive streams). */
const started = new Date();

export function servedStreamCatalog(catalog: ExportCatalog, label: string): StreamCatalog {
  return {
    label,
    async list() {
      return (await catalog.currentDisks()).map((d) => ({
        id: d.id,
        name: d.name,
        size: d.size,
        time: d.time ?? started,
        info: d.info ?? { id: d.id, name: d.name, size: d.size },
        ...(d.dataBytes !== undefined ? { dataBytes: d.dataBytes } : {}),
      }));
    },
    async open(id) {
      const disk = (await catalog.currentDisks()).find((d) => d.id === id);
      if (!disk) throw new DiskarcError('ENOSTREAM', `stream ${id} is no longer served`, { stream: id });
      // The tree closes what it opens; the shared source belongs to the catalog.
      return new BorrowedSource(await catalog.diskSource(disk));
    },
    // The catalog (and so the archive) is closed by the serve process, after every service.
    async close() {},
  };
}

export function servedTree(catalog: ExportCatalog, label: string): StreamTree {
  return new StreamTree(servedStreamCatalog(catalog, label));
}
