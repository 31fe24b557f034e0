// Opens an archive's streams as served disks (placeholder until src/archive/archive.ts lands).
import { DiskarcError } from '../src/errors.js';
import type { ServeConfig } from './config.js';
import type { OpenedDisks } from './disks.js';

export async function openArchiveDisks(config: ServeConfig): Promise<OpenedDisks> {
  throw new DiskarcError('ENOARCHIVE', `cannot serve ${config.archive}: archive support is not built yet`);
}
