// The one place a serve process opens what it serves: the archive (with its shared slab cache)
// and any raw images. Returns the disks for the export catalog and how to close them all.
import { basename } from 'node:path';
import { stat } from 'node:fs/promises';
import { FileBlockSource } from '../src/block/file-source.js';
import { DiskarcError, systemError } from '../src/errors.js';
import type { ServedDisk } from './catalog.js';

export interface OpenedDisks {
  disks: ServedDisk[];
  /** Byte budget of the slab cache these disks read through, when they have one. */
  cacheBytes?: number;
  /** That cache's counters (hits, misses, bytes held, budget). */
  cacheStats?: () => { hits: number; misses: number; bytes: number; budget: number };
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
    const probe = await FileBlockSource.open(path).catch((e: unknown) => {
      throw environmentalCause(e, `opening the image ${path}`);
    });
    const size = probe.size;
    await probe.close();
    const time = (await stat(path).catch(() => undefined))?.mtime;
    disks.push({
      id: `image${i + 1}`,
      name: basename(path),
      size,
      note: path,
      time,
      info: { id: `image${i + 1}`, name: basename(path), sourcePath: path, size },
      open: () => FileBlockSource.open(path),
    });
  }
  return { disks, close: async () => {} };
}

/**
 * An environmental failure (EACCES, EIO, EMFILE…) that a lower layer wrapped as bad input or a
 * missing archive is reported as its own class (exit 14, 15, 16), never as what it is not.
 */
export function environmentalCause(e: unknown, doing: string): unknown {
  const cause = e instanceof DiskarcError && (e.code === 'ENOARCHIVE' || e.code === 'EINPUT') ? e.cause : e;
  return systemError(cause, doing) ?? e;
}
