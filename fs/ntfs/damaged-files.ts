// Which files of an NTFS volume a set of damaged volume byte ranges reaches (for `check`): a
// file is hit when the clusters of any of its non-resident attributes (its data, alternate
// streams, directory index blocks) or its own MFT record lie in a damaged range — resident data
// lives in that record. Walks the whole tree through the runlists, as ZFS scrub names files.
import { AttributeType } from './attribute.js';
import { findAttribute } from './file-record.js';
import type { Run } from './runlist.js';
import type { NtfsVolume } from './volume.js';
import { walkTree } from './walk.js';

type Range = readonly [offset: number, length: number];

function hits(ranges: readonly Range[], start: number, end: number): boolean {
  for (const [o, l] of ranges) if (o < end && start < o + l) return true;
  return false;
}

function runsHit(runs: readonly Run[], clusterSize: number, ranges: readonly Range[]): boolean {
  return runs.some((r) => r.lcn !== null && hits(ranges, r.lcn * clusterSize, (r.lcn + r.length) * clusterSize));
}

/** Volume byte offset of MFT record `n`, through the $MFT's own runlist. */
function recordPosition(mftRuns: readonly Run[], clusterSize: number, recordSize: number, n: number): number | undefined {
  const byte = n * recordSize;
  const vcn = Math.floor(byte / clusterSize);
  const run = mftRuns.find((r) => vcn >= r.vcn && vcn < r.vcn + r.length);
  return run && run.lcn !== null ? (run.lcn + vcn - run.vcn) * clusterSize + (byte % clusterSize) : undefined;
}

/** Paths ('/'-rooted, every hard link) of the files and directories the damaged volume ranges reach. */
export async function filesInRanges(volume: NtfsVolume, ranges: readonly Range[]): Promise<string[]> {
  if (ranges.length === 0) return [];
  const cs = volume.clusterSize;
  const recordSize = volume.geometry.mftRecordSize;
  const mftData = findAttribute(await volume.fileRecordOf(0), AttributeType.DATA);
  const mftRuns = mftData?.runs ?? [];
  const out: string[] = [];
  for await (const item of walkTree(volume, '/', { system: true })) {
    const rec = await volume.fileRecordOf(item.entry.mftRecord);
    const at = recordPosition(mftRuns, cs, recordSize, rec.number);
    const recordHit = at !== undefined && hits(ranges, at, at + recordSize);
    if (recordHit || rec.attributes.some((a) => !a.resident && runsHit(a.runs, cs, ranges))) out.push('/' + item.path);
  }
  return out;
}
