// The disks the NBD client tests serve: the generated sample disk (MBR, random / repeated / zero /
// 0xFF / text regions and holes) and an odd-sized random image, packed into an archive when the
// archive core is available, else served as raw images.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSampleDisk, type SampleDisk } from '../../../src/sample-disk.js';
import { allocationFlags } from '../../../protocols/nbd/extents.js';
import { startServer, writeOddImage, type TestServer } from './helpers.js';

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

export async function openFixtureDisks(dir: string): Promise<{ server: TestServer; disks: FixtureDisk[] }> {
  const samplePath = join(dir, 'sample.img');
  const layout = await writeSampleDisk(samplePath, 32, 3);
  const oddPath = join(dir, 'odd.bin');
  await writeOddImage(oddPath);
  const server = await startServer(dir, { images: [samplePath, oddPath] });
  const disks: FixtureDisk[] = [];
  for (const [i, [path, l]] of ([[samplePath, layout], [oddPath, undefined]] as const).entries()) {
    const id = `image${i + 1}`;
    const exp = (await server.proc.catalog.open(id))!;
    const expectedMap: FixtureDisk['expectedMap'] = [];
    for (const e of await exp.source.extents(0, exp.source.size)) {
      const type = allocationFlags(e.kind);
      const last = expectedMap[expectedMap.length - 1];
      if (last && last.type === type) last.length += e.length;
      else expectedMap.push({ offset: e.offset, length: e.length, type });
    }
    disks.push({ id, name: path.split('/').pop()!, path, data: await readFile(path), sparse: l !== undefined, layout: l, expectedMap });
  }
  return { server, disks };
}
