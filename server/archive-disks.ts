// Opens an archive for serving — the one place a serve process does so, with the one slab cache
// every protocol reads through — and lists its streams (or the -s selection) as served disks.
import { totalmem } from 'node:os';
import { Archive } from '../src/archive/archive.js';
import { SlabCache } from '../src/archive/slab-cache.js';
import type { StreamInfo } from '../src/archive/stream-info.js';
import type { ServedDisk } from './catalog.js';
import type { ServeConfig } from './config.js';
import { environmentalCause, type OpenedDisks } from './disks.js';
import { classifySystemError } from '../src/errors.js';

/** Share of physical memory the default cache budget may take. */
const DEFAULT_CACHE_RAM_SHARE = 0.25;

/**
 * The slab cache budget used when the user gives none: enough to hold every decompressed byte
 * the served streams can reference (so a warm server reads nothing twice), but at most a quarter
 * of physical memory, and never more than that data needs. Below the archive's own default it
 * only goes when the data is smaller.
 */
export function defaultServeCacheBytes(
  all: StreamInfo[],
  served: StreamInfo[],
  archiveDefault: number,
  slabSize: number,
  ram = totalmem(),
): number {
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
 * empty) and, unless `cacheBytes` is given, sizes the slab cache for them (defaultServeCacheBytes;
 * for every stream, at least the archive's dataCacheMiB, as streams packed later are served too).
 */
export async function openArchiveForServing(
  dir: string,
  refs: string[],
  cacheBytes?: number,
): Promise<{ archive: Archive; streams: StreamInfo[] }> {
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
      const archiveDefault = archive.config.dataCacheMiB * 1024 * 1024;
      const sized = defaultServeCacheBytes(await archive.listStreams(), streams, archiveDefault, archive.config.slabSize);
      // Serving every stream, the set grows as streams are packed: those need room too. A budget
      // is only a bound (slabs are cached as they are read), so a small archive still costs its size.
      const budget = refs.length === 0 ? Math.max(sized, archiveDefault) : sized;
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

/**
 * The archive's streams as served disks. Without a `-s` selection the set follows the archive:
 * `refresh` lists the committed streams again (a stream is committed by renaming its directory
 * into streams/, so a listing never sees one half-written).
 */
export async function openArchiveDisks(config: ServeConfig): Promise<OpenedDisks> {
  const dir = config.archive!;
  const { archive: opened, streams } = await openArchiveForServing(dir, config.streams, config.cacheBytes).catch((e: unknown) => {
    throw environmentalCause(e, `opening the archive ${dir}`);
  });
  const toDisk = (s: StreamInfo): ServedDisk => ({
    id: s.id,
    name: s.name,
    size: s.size,
    note: `packed ${s.packTime}`,
    time: new Date(s.packTime),
    info: { ...s },
    dataBytes: s.mappedSize - s.fillBytes,
    open: () =>
      opened.openStream(s.id).catch((e: unknown) => {
        throw classifySystemError(e, `opening stream ${s.id} of ${dir}`);
      }),
  });
  const damaged = (): string[] => opened.damagedStreams.map((e) => `not serving a damaged stream: ${e.message}`);
  const refresh = async () => {
    const all = await opened.listStreams().catch((e: unknown) => {
      throw classifySystemError(e, `listing the streams of ${dir}`);
    });
    return { disks: all.map(toDisk), warnings: damaged() };
  };
  return {
    disks: streams.map(toDisk),
    cacheBytes: opened.cache.budget,
    cacheStats: () => opened.cache.stats,
    warnings: damaged(),
    ...(config.streams.length === 0 ? { refresh } : {}),
    close: () => opened.close(),
  };
}
