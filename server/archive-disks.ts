// Opens an archive for serving — the one place a serve process does so, with the one slab cache
// every protocol reads through — and lists its streams (or the -s selection) as served disks.
import { totalmem } from 'node:os';
import { Archive } from '../src/archive/archive.js';
import { SlabCache } from '../src/archive/slab-cache.js';
import type { StreamInfo } from '../src/archive/stream-info.js';
import type { ServedDisk } from './catalog.js';
import type { ServeConfig } from './config.js';
import type { OpenedDisks } from './disks.js';

/** Share of physical memory the default cache budget may take. */
const DEFAULT_CACHE_RAM_SHARE = 0.25;

/**
 * The slab cache budget used when the user gives none: enough to hold every decompressed byte
 * the served streams can reference (so a warm server reads nothing twice), but at most a quarter
 * of physical memory, and never more than that data needs. Below the archive's own default it
 * only goes when the data is smaller.
 */
export function defaultServeCacheBytes(all: StreamInfo[], served: StreamInfo[], archiveDefault: number, slabSize: number, ram = totalmem()): number {
  const unique = (s: StreamInfo): number => Math.max(0, s.mappedSize - s.fillBytes - s.duplicateBytes);
  // Data the served streams can reach: no more than they map, no more than the archive stores.
  const reachable = Math.min(
    served.reduce((n, s) => n + Math.max(0, s.mappedSize - s.fillBytes), 0),
    all.reduce((n, s) => n + unique(s), 0),
  );
  // Slabs are filled whole except each stream's last one.
  const needed = reachable + slabSize * (all.length + 1);
  const ceiling = Math.max(archiveDefault, Math.floor(ram * DEFAULT_CACHE_RAM_SHARE));
  return Math.min(needed, ceiling);
}

/**
 * Opens an archive for serving (serve, mount): resolves the `refs` streams (every stream when
 * empty) and, unless `cacheBytes` is given, sizes the slab cache for them (defaultServeCacheBytes).
 */
export async function openArchiveForServing(dir: string, refs: string[], cacheBytes?: number): Promise<{ archive: Archive; streams: StreamInfo[] }> {
  SlabCache.releaseEvictedMemoryPromptly();
  SlabCache.decodeBehindRequests();
  let archive = await Archive.open(dir, { cacheBytes });
  try {
    let streams: StreamInfo[];
    if (refs.length > 0) {
      const seen = new Set<string>();
      streams = [];
      for (const ref of refs) {
        const info = await archive.resolveStream(ref);
        if (!seen.has(info.id)) streams.push(info);
        seen.add(info.id);
      }
    } else {
      streams = await archive.listStreams();
    }
    if (cacheBytes === undefined) {
      // The budget is fixed when the archive opens: reopen with the one sized for what is served.
      const budget = defaultServeCacheBytes(await archive.listStreams(), streams, archive.config.dataCacheMiB * 1024 * 1024, archive.config.slabSize);
      if (budget !== archive.cache.budget) {
        await archive.close();
        archive = await Archive.open(dir, { cacheBytes: budget });
      }
    }
    return { archive, streams };
  } catch (e) {
    await archive.close();
    throw e;
  }
}

export async function openArchiveDisks(config: ServeConfig): Promise<OpenedDisks> {
  const { archive: opened, streams } = await openArchiveForServing(config.archive!, config.streams, config.cacheBytes);
  const warnings = opened.damagedStreams.map((e) => `not serving a damaged stream: ${e.message}`);
  const disks: ServedDisk[] = streams.map((s) => ({
    id: s.id,
    name: s.name,
    size: s.size,
    note: `packed ${s.packTime}`,
    open: () => opened.openStream(s.id),
  }));
  return { disks, cacheBytes: opened.cache.budget, warnings, close: () => opened.close() };
}
