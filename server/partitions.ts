// Lists a disk's partitions (MBR or GPT) for the export catalog, as windows over the disk source.
// A disk without a table has none; a damaged table is logged by the caller and serves none.
import { openPartition, readPartitionTable } from '../fs/partitions/index.js';
import type { BlockSource } from '../src/block/source.js';
import type { ServedPartition } from './catalog.js';

export async function listPartitions(disk: BlockSource): Promise<ServedPartition[]> {
  const table = await readPartitionTable(disk);
  if (!table) return [];
  return table.partitions
    .filter((p) => !p.extended && p.size > 0 && p.start < disk.size)
    .map((p) => {
      const source = openPartition(disk, p);
      const what = [table.scheme.toUpperCase(), p.typeName ?? p.type, p.filesystem, p.name].filter(Boolean).join(' ');
      return { index: p.index, size: source.size, note: what, source };
    });
}
