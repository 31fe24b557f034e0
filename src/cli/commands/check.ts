// `diskarc check`: reads every file of an archive (never writes) and reports each problem — the
// file and byte range, what is wrong — with the streams and stream byte ranges it damages and,
// for NTFS partitions of a damaged stream, the files those ranges reach. Exit 0 clean, 8 damaged.
import type { Command } from 'commander';
import { Archive } from '../../archive/archive.js';
import { checkArchive, type CheckReport, type StreamReport } from '../../archive/check/index.js';
import type { BlockSource } from '../../block/source.js';
import { ExitCode, isDiskarcError } from '../../errors.js';
import { filesInRanges } from '../../../fs/ntfs/damaged-files.js';
import { looksLikeNtfs, NtfsVolume } from '../../../fs/ntfs/index.js';
import { openPartition, readPartitionTable } from '../../../fs/partitions/index.js';
import { archiveOption, commonOptions } from '../options.js';
import { Output, formatBytes } from '../output.js';

export function register(program: Command): void {
  commonOptions(
    archiveOption(
      program.command('check').description('check every file of an archive; name the damaged streams, their byte ranges and (NTFS) files'),
    ),
  )
    .option('--deep', 'also decompress every data slab and check every chunk hash and each stream digest (reads everything)')
    .addHelpText(
      'after',
      '\nExit codes: 0 the archive is clean, 8 damage was found (the report says where), 3 the directory is not an archive.',
    )
    .action(async (o: { archive: string; deep?: boolean; json?: boolean; verbose?: boolean }) => {
      const out = new Output(o);
      const report = await checkArchive(o.archive, { deep: o.deep });
      if (!report.streams.every((s) => s.intact)) await addDamagedFiles(report, out);
      out.result(report, () => describe(report));
      process.exitCode = report.clean ? ExitCode.OK : ExitCode.CORRUPT;
    });
}

/** For each damaged stream holding NTFS volumes: the file paths its damaged ranges reach. */
async function addDamagedFiles(report: CheckReport, out: Output): Promise<void> {
  let archive: Archive;
  try {
    archive = await Archive.open(report.archive, { cacheBytes: 32 * 1024 * 1024 });
  } catch (e) {
    if (!isDiskarcError(e)) throw e;
    out.verbose(`files of damaged streams not looked up: ${e.message}`);
    return;
  }
  try {
    for (const s of report.streams) {
      if (s.intact || s.damagedRanges.length === 0) continue;
      try {
        const reader = await archive.openStream(s.id);
        try {
          const files = await ntfsFilesHit(reader, s);
          if (files) s.files = files;
        } finally {
          await reader.close();
        }
      } catch (e) {
        if (!isDiskarcError(e)) throw e;
        // The damage may be in the filesystem's own structures: say so instead of guessing.
        s.filesError = `files could not be determined: ${e.message}`;
      }
    }
  } finally {
    await archive.close();
  }
}

async function ntfsFilesHit(source: BlockSource, s: StreamReport): Promise<string[] | undefined> {
  const volumes: Array<{ prefix: string; start: number; source: BlockSource }> = [];
  if (source.size >= 512 && looksLikeNtfs(await source.read(0, 512))) volumes.push({ prefix: '', start: 0, source });
  else {
    const table = await readPartitionTable(source);
    for (const p of table?.partitions ?? [])
      if (p.filesystem === 'ntfs') volumes.push({ prefix: `p${p.index}:`, start: p.start, source: openPartition(source, p) });
  }
  if (volumes.length === 0) return undefined;
  const files: string[] = [];
  for (const v of volumes) {
    const ranges = s.damagedRanges
      .map(
        ([o, l]) => [Math.max(o, v.start) - v.start, Math.min(o + l, v.start + v.source.size) - Math.max(o, v.start)] as [number, number],
      )
      .filter(([, l]) => l > 0);
    if (ranges.length === 0) continue;
    const volume = await NtfsVolume.open(v.source);
    try {
      for (const f of await filesInRanges(volume, ranges)) files.push(v.prefix + f);
    } finally {
      await volume.close();
    }
  }
  return files;
}

function rangesText(ranges: ReadonlyArray<readonly [number, number]>): string {
  const shown = ranges
    .slice(0, 8)
    .map(([o, l]) => `${o}+${l}`)
    .join(', ');
  return ranges.length > 8 ? `${shown} … (${ranges.length} ranges)` : shown;
}

function describe(r: CheckReport): string {
  const lines: string[] = [];
  for (const p of r.problems) {
    lines.push(`${p.kind}: ${p.file} bytes ${p.offset}+${p.length}: ${p.message}`);
    for (const a of p.affects)
      lines.push(
        `  damages stream ${a.id}${a.name !== undefined ? ` (${a.name})` : ''}` +
          `${a.ranges.length ? ` at ${rangesText(a.ranges)}` : ' (whole stream)'}`,
      );
    if (p.affects.length === 0) lines.push('  no stream is affected');
  }
  for (const s of r.streams) {
    const label = `stream ${s.id}${s.name !== undefined ? ` (${s.name})` : ''}`;
    if (s.intact) lines.push(`${label}: intact`);
    else {
      lines.push(`${label}: DAMAGED${s.damagedRanges.length ? ` at ${rangesText(s.damagedRanges)}` : ' (whole stream)'}`);
      if (s.files)
        lines.push(
          s.files.length
            ? `  files: ${s.files.slice(0, 20).join(', ')}${s.files.length > 20 ? ` … (${s.files.length} files)` : ''}`
            : '  no NTFS file is in the damaged ranges (filesystem free space or metadata)',
        );
      if (s.filesError) lines.push(`  ${s.filesError}`);
    }
  }
  for (const n of r.notes) lines.push(`note: ${n.file}: ${n.message}`);
  const verdict = r.clean
    ? 'clean'
    : `${r.problems.length} problem(s), ${r.streams.filter((s) => !s.intact).length} of ${r.streams.length} stream(s) damaged`;
  lines.push(
    `${r.deep ? 'deep' : 'fast'} check of ${r.archive}: ${verdict} (${r.slabs.total} slabs, read ${formatBytes(r.bytesRead)} ` +
      `in ${r.seconds.toFixed(2)} s)`,
  );
  if (!r.deep) lines.push('data slab payloads were not read: run with --deep to check their checksums, chunk hashes and stream digests');
  return lines.join('\n');
}
