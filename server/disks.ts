// The one place a serve process opens what it serves: the archive (with its shared slab cache)
// and any raw images. Returns the disks for the export catalog and how to close them all.
import { basename } from 'node:path';
import { FileBlockSource } from '../src/block/file-source.js';
import type { ServedDisk } from './catalog.js';

export interface OpenedDisks {
  disks: ServedDisk[];
  /** Byte budget of the slab cache these disks read through, when they have one. */
  cacheBytes?: number;
  /** Problems worth a log line (e.g. streams left out because their metadata is damaged). */
  warnings?: string[];
  /** Lists the disks again (a served archive gains streams as they are committed); absent for a fixed set. */
  refresh?(): Promise<{ disks: ServedDisk[]; warnings: string[] }>;
  close(): Promise<void>;
}

/** Raw image files as disks: id "imageN", name the file's base name. */
export async function openImageDisks(paths: string[]): Promise<OpenedDisks> {
  const disks: ServedDisk[] = [];
  // Probe each file now so a wrong path fails at startup, not at the first client.
  for (const [i, path] of paths.entries()) {
    const probe = await FileBlockSource.open(path);
    const size = probe.size;
    await probe.close();
    disks.push({ id: `image${i + 1}`, name: basename(path), size, note: path, open: () => FileBlockSource.open(path) });
  }
  return { disks, close: async () => {} };
}
