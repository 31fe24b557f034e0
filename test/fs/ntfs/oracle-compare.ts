// Compares what our NTFS reader sees on a fixture image with the fixture's oracle manifest
// (The Sleuth Kit + ntfsprogs): listing, types, sizes, mtimes, link targets, attributes,
// link counts, SHA-256 of every file and every alternate data stream, allocated clusters.
import { createHash } from 'node:crypto';
import type { BlockSource } from '../../../src/block/source.js';
import { type NtfsVolume, walkTree } from '../../../fs/ntfs/index.js';
import type { OracleManifest } from '../../fixtures/ntfs/oracle-manifest.js';

const ZEROS = Buffer.alloc(1 << 20);

/**
 * SHA-256 of a source's content. Holes are hashed as zeros without reading them (a 5 GiB sparse
 * file would otherwise dominate the suite); their reading as zeros is tested separately.
 */
export async function sha256Of(src: BlockSource): Promise<string> {
  const h = createHash('sha256');
  let pos = 0;
  for (const ext of await src.extents(0, src.size)) {
    if (ext.offset !== pos) throw new Error(`extents leave a gap at ${pos}`);
    for (let off = ext.offset; off < ext.offset + ext.length; off += 1 << 20) {
      const n = Math.min(1 << 20, ext.offset + ext.length - off);
      h.update(ext.kind === 'data' ? await src.read(off, n) : ZEROS.subarray(0, n));
    }
    pos = ext.offset + ext.length;
  }
  if (pos !== src.size) throw new Error(`extents cover ${pos} of ${src.size} bytes`);
  return h.digest('hex');
}

export interface Comparison {
  compared: number;
  contentCompared: number;
  streamsCompared: number;
  differences: string[];
}

/** Every difference between our view of `volume` and the oracle, as readable lines. */
export async function compareWithOracle(volume: NtfsVolume, oracle: OracleManifest, opts: { content?: boolean } = {}): Promise<Comparison> {
  const diffs: string[] = [];
  const ours = new Map<string, Awaited<ReturnType<typeof volume.stat>>>();
  for await (const item of walkTree(volume, '/')) ours.set(item.path, item.entry);
  const theirs = new Map(oracle.entries.map((e) => [e.path, e]));
  for (const p of theirs.keys()) if (!ours.has(p)) diffs.push(`missing: ${p}`);
  for (const p of ours.keys()) if (!theirs.has(p)) diffs.push(`extra: ${p}`);
  let contentCompared = 0;
  let streamsCompared = 0;
  for (const [path, o] of theirs) {
    const e = ours.get(path);
    if (!e) continue;
    const d = (what: string, a: unknown, b: unknown) => {
      if (a !== b) diffs.push(`${path}: ${what} ours=${JSON.stringify(a)} oracle=${JSON.stringify(b)}`);
    };
    d('type', e.type, o.type);
    d('mftRecord', e.mftRecord, o.mftRecord);
    d('name', e.name, o.name);
    if (o.type !== 'directory') d('size', e.size, o.size);
    d('mtime', e.mtime.toISOString(), o.mtime);
    if (o.linkTarget !== undefined || e.linkTarget !== undefined) d('linkTarget', e.linkTarget, o.linkTarget?.replace(/\\/g, '/'));
    if (o.attributes !== undefined) d('attributes', e.attributes, o.attributes);
    if (o.nlink !== undefined) d('links', e.links, o.nlink);
    d('streams', JSON.stringify([...e.streams].sort()), JSON.stringify(o.streams.map((s) => s.name).sort()));
    if (opts.content === false) continue;
    if (o.sha256 !== undefined) {
      const src = await volume.openFile('/' + path);
      d('sha256', await sha256Of(src), o.sha256);
      contentCompared++;
    }
    for (const s of o.streams) {
      if (!e.streams.includes(s.name)) continue;
      const src = await volume.openFile(`/${path}:${s.name}`);
      d(`stream ${s.name} size`, src.size, s.size);
      d(`stream ${s.name} sha256`, await sha256Of(src), s.sha256);
      streamsCompared++;
    }
  }
  const allocated = await volume.allocatedClusters();
  if (allocated !== oracle.allocatedClusters) diffs.push(`allocatedClusters ours=${allocated} oracle=${oracle.allocatedClusters}`);
  if (volume.clusterSize !== oracle.clusterSize) diffs.push(`clusterSize ours=${volume.clusterSize} oracle=${oracle.clusterSize}`);
  return { compared: theirs.size, contentCompared, streamsCompared, differences: diffs };
}
