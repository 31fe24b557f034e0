// `diskarc partitions`: the partition table of an archived stream or an image — index, start,
// size, type, name and the filesystem (type and label) inside each partition, like `fdisk -l` plus blkid.
import { Option, type Command } from 'commander';
import { probeFilesystem, readPartitionTable, type PartitionTable } from '../../../fs/partitions/index.js';
import { cacheOption, commonOptions } from '../options.js';
import { Output, formatBytes } from '../output.js';
import { openSourceRefFromCli, type SourceRefCliOptions } from '../source-ref.js';

type PartitionsOptions = SourceRefCliOptions;

export function register(program: Command): void {
  commonOptions(
    cacheOption(
      program
        .command('partitions')
        .description('list the partitions of an archived disk (-a DIR -s STREAM) or of an image (--image FILE)')
        .addOption(new Option('-a, --archive <dir>', 'archive directory').env('DISKARC_ARCHIVE'))
        .option('-s, --stream <stream>', 'stream id, unique id prefix, or name (STREAM:pN lists a table nested in partition N)')
        .option('--image <file>', 'a raw disk image or block device instead of an archived stream'),
    ),
  ).action(async (o: PartitionsOptions) => {
    const out = new Output(o);
    const opened = await openSourceRefFromCli(o);
    try {
      const table = await readPartitionTable(opened.source);
      if (!table) {
        const fs = await probeFilesystem(opened.source);
        const described = fs
          ? `whole-disk filesystem: ${fs.type}${fs.label ? ` "${fs.label}"` : ''}${fs.uuid ? ` (UUID ${fs.uuid})` : ''}`
          : 'no recognised filesystem';
        out.result(
          {
            source: opened.label,
            size: opened.source.size,
            scheme: null,
            filesystem: fs?.type ?? null,
            label: fs?.label ?? null,
            filesystemUuid: fs?.uuid ?? null,
            partitions: [],
          },
          `${opened.label}: ${formatBytes(opened.source.size)}, no partition table; ${described}`,
        );
        return;
      }
      for (const w of table.warnings) out.info(`warning: ${w}`);
      out.result({ source: opened.label, size: opened.source.size, ...table }, () => formatTable(opened.label, opened.source.size, table));
    } finally {
      await opened.close();
    }
  });
}

/** fdisk-like text: a summary line, then one row per partition with start and length in sectors. */
function formatTable(label: string, size: number, table: PartitionTable): string {
  const ss = table.sectorSize;
  const head =
    `${label}: ${formatBytes(size)}, ${table.scheme.toUpperCase()}, disk id ${table.diskId}, ${ss}-byte ` +
    `sectors${table.header === 'backup' ? ' (read from the backup GPT header)' : ''}`;
  if (table.partitions.length === 0) return `${head}\nno partitions`;
  const rows = [['#', 'Boot', 'Start', 'Sectors', 'Size', 'Type', 'Name', 'Filesystem', 'Label']];
  for (const p of table.partitions) {
    const type = p.typeName ? (table.scheme === 'mbr' ? `${p.typeName} (${p.type})` : p.typeName) : p.type;
    rows.push([
      `p${p.index}`,
      p.bootable ? '*' : '',
      String(p.start / ss),
      String(p.size / ss),
      formatBytes(p.size),
      type,
      p.name ?? '',
      p.filesystem ?? (p.extended ? '(extended)' : ''),
      p.label ?? '',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const numeric = new Set([2, 3, 4]);
  const lines = rows.map((r) =>
    r
      .map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  return [head, ...lines].join('\n');
}
