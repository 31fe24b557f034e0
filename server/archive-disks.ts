// Opens an archive for serving — the one place a serve process does so, with the one slab cache
// every protocol reads through — and lists its streams (or the -s selection) as served disks.
import { Archive } from '../src/archive/archive.js';
import type { StreamInfo } from '../src/archive/stream-info.js';
import type { ServedDisk } from './catalog.js';
import type { ServeConfig } from './config.js';
import type { OpenedDisks } from './disks.js';

export async function openArchiveDisks(config: ServeConfig): Promise<OpenedDisks> {
  const archive = await Archive.open(config.archive!, { cacheBytes: config.cacheBytes });
  try {
    let streams: StreamInfo[];
    if (config.streams.length > 0) {
      const seen = new Set<string>();
      streams = [];
      for (const ref of config.streams) {
        const info = await archive.resolveStream(ref);
        if (!seen.has(info.id)) streams.push(info);
        seen.add(info.id);
      }
    } else {
      streams = await archive.listStreams();
    }
    const disks: ServedDisk[] = streams.map((s) => ({
      id: s.id,
      name: s.name,
      size: s.size,
      note: `packed ${s.packTime}`,
      open: () => archive.openStream(s.id),
    }));
    return { disks, close: () => archive.close() };
  } catch (e) {
    await archive.close();
    throw e;
  }
}
