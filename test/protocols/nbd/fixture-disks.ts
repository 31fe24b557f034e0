// The disks the NBD client tests serve: the generated sample disk (MBR, random / repeated / zero /
// 0xFF / text regions and holes) and an odd-sized random image, packed into an archive with the
// CLI and served as archived streams.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSampleDisk, type SampleDisk } from '../../../src/sample-disk.js';
import { allocationFlags } from '../../../protocols/nbd/extents.js';
import { fileURLToPath } from 'node:url';
import { openArchiveDisks } from '../../../server/archive-disks.js';
import { listPartitions } from '../../../server/partitions.js';
import { run, startServer, writeOddImage, type TestServer } from './helpers.js';

export interface FixtureDisk {
  id: string;
  name: string;
  path: string;
  data: Buffer;
  sparse: boolean;
  layout?: SampleDisk;
  /** base:allocation map (offset, length, type) derived from the served source's own extents. */
  expectedMap: Array<{ offset: number; length: number; type: number }>;
}

/** Runs the diskarc CLI (built) as a child process. */
export function diskarc(args: string[], timeoutMs = 120000) {
  return run(process.execPath, [fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url)), ...args], { timeoutMs });
}

/** Creates an archive with small slabs (so reads cross slab boundaries) and packs `inputs` into it. */
export async function packArchive(dir: string, inputs: Array<{ path: string; name: string }>): Promise<{ archive: string; ids: string[] }> {
  const archive = join(dir, 'archive');
  const c = await diskarc(['create', '-a', archive, '--slab-size', '256KiB', '--json']);
  if (c.code !== 0) throw new Error(`diskarc create failed: ${c.stderr}`);
  const ids: string[] = [];
  for (const input of inputs) {
    const p = await diskarc(['pack', '-a', archive, input.path, '--name', input.name, '--json']);
    if (p.code !== 0) throw new Error(`diskarc pack ${input.path} failed: ${p.stderr}`);
    ids.push((JSON.parse(p.stdout) as { id: string }).id);
  }
  return { archive, ids };
}

export async function openFixtureDisks(dir: string): Promise<{ server: TestServer; disks: FixtureDisk[] }> {
  const samplePath = join(dir, 'sample.img');
  const layout = await writeSampleDisk(samplePath, 32, 3);
  const oddPath = join(dir, 'odd.bin');
  await writeOddImage(oddPath);
  const inputs = [
    { path: samplePath, name: 'sample', layout },
    { path: oddPath, name: 'odd', layout: undefined },
  ];
  const { archive, ids } = await packArchive(dir, inputs);
  const server = await startServer(dir, { archive, openArchive: openArchiveDisks, partitions: listPartitions });
  const disks: FixtureDisk[] = [];
  for (const [i, input] of inputs.entries()) {
    const id = ids[i]!;
    const exp = (await server.proc.catalog.open(id))!;
    const expectedMap: FixtureDisk['expectedMap'] = [];
    for (const e of await exp.source.extents(0, exp.source.size)) {
      const type = allocationFlags(e.kind);
      const last = expectedMap[expectedMap.length - 1];
      if (last && last.type === type) last.length += e.length;
      else expectedMap.push({ offset: e.offset, length: e.length, type });
    }
    disks.push({
      id,
      name: input.name,
      path: input.path,
      data: await readFile(input.path),
      sparse: input.layout !== undefined,
      layout: input.layout,
      expectedMap,
    });
  }
  return { server, disks };
}
