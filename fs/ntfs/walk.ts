// Depth-first walk of a directory tree on an NtfsVolume (ls -R, extract, tests): pre-order,
// directories' records reused instead of re-resolving paths, and a guard against directory
// cycles that a corrupt index could create.
import { DiskarcError } from '../../src/errors.js';
import type { NtfsEntry, NtfsVolume, ReaddirOptions } from './volume.js';

export interface WalkItem {
  /** Path relative to the walk's root, '/'-separated, no leading '/'. */
  path: string;
  entry: NtfsEntry;
  depth: number;
}

export const MAX_TREE_DEPTH = 1024;

/** Yields every entry below `root` (not the root itself); directories before their contents. */
export async function* walkTree(volume: NtfsVolume, root: string, opts: ReaddirOptions = {}): AsyncGenerator<WalkItem> {
  const start = await volume.recordOf(root);
  const onPath = new Set<number>([start.number]);
  async function* visit(recNumber: number, prefix: string, depth: number): AsyncGenerator<WalkItem> {
    if (depth > MAX_TREE_DEPTH)
      throw new DiskarcError('EFS', `directory tree below /${root} is deeper than ${MAX_TREE_DEPTH} levels`, { path: prefix });
    const dir = await volume.fileRecordOf(recNumber);
    for (const entry of await volume.readdirRecord(dir, opts)) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      yield { path, entry, depth };
      if (entry.type !== 'directory') continue;
      if (onPath.has(entry.mftRecord)) {
        throw new DiskarcError('EFS', `directory cycle: ${path} is MFT record ${entry.mftRecord}, one of its own ancestors`, {
          path,
          mftRecord: entry.mftRecord,
        });
      }
      onPath.add(entry.mftRecord);
      yield* visit(entry.mftRecord, path, depth + 1);
      onPath.delete(entry.mftRecord);
    }
  }
  yield* visit(start.number, '', 0);
}
