// Lists a disk's partitions for the export catalog (placeholder until fs/partitions lands).
import type { BlockSource } from '../src/block/source.js';
import type { ServedPartition } from './catalog.js';

export async function listPartitions(_disk: BlockSource): Promise<ServedPartition[]> {
  return [];
}
