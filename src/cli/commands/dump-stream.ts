// `diskarc dump-stream`: prints a stream's map extent by extent (for debugging). Its --json is
// JSON Lines — one object per extent, streamed — because a map can hold millions of extents.
import type { Command } from 'commander';
import { Archive } from '../../archive/archive.js';
import { ExtentType } from '../../archive/layout.js';
import type { MapExtent } from '../../archive/stream-map.js';
import { DiskarcError } from '../../errors.js';
import { archiveOption, parseSize } from '../options.js';

const TYPE = { [ExtentType.Data]: 'data', [ExtentType.Fill]: 'fill', [ExtentType.Unmapped]: 'unmapped' } as Record<number, string>;

export function register(program: Command): void {
  archiveOption(program.command('dump-stream').description("print a stream's map (offset, length, type, slab location)"))
    .requiredOption('-s, --stream <stream>', 'stream id, unique id prefix, or name')
    .option('--offset <bytes>', 'start at this stream offset (must lie inside the stream)', parseSize, 0)
    .option('--length <bytes>', 'only this many bytes of the stream (default: to its end; a longer one stops at the end)', parseSize)
    .option('--json', 'machine-readable output: JSON Lines, one object per map extent (errors: one {"error": …} object)')
    .option('-v, --verbose', 'more detail on errors')
    .action(async (o: { archive: string; stream: string; offset: number; length?: number; json?: boolean }) => {
      const archive = await Archive.open(o.archive);
      try {
        const reader = await archive.openStream(o.stream);
        try {
          // An empty map for a start past the end would look like a valid answer; it is not one.
          if (o.offset >= reader.size && !(o.offset === 0 && reader.size === 0)) {
            throw new DiskarcError(
              'ERANGE',
              `--offset ${o.offset} is past the end of stream ${reader.info.id} (${reader.size} bytes; offsets run from 0 to ` +
                `${Math.max(0, reader.size - 1)})`,
              { offset: o.offset, size: reader.size, stream: reader.info.id },
            );
          }
          if (!o.json)
            process.stdout.write(`# stream ${reader.info.id} (${reader.info.name}), ${reader.size} bytes\n# offset length type detail\n`);
          const lines: string[] = [];
          const flush = () => {
            if (lines.length) process.stdout.write(lines.join('\n') + '\n');
            lines.length = 0;
          };
          await reader.mapExtents(o.offset, o.length ?? reader.size, (e) => {
            const type = TYPE[e.type] ?? `type${e.type}`;
            if (o.json)
              lines.push(
                JSON.stringify({
                  offset: e.offset,
                  length: e.length,
                  type,
                  ...(e.type === ExtentType.Data
                    ? { slab: e.slab, slabOffset: e.slabOffset, chunk: e.chunk }
                    : e.type === ExtentType.Fill
                      ? { fillByte: e.fillByte }
                      : {}),
                }),
              );
            else lines.push(`${e.offset} ${e.length} ${type} ${extentDetail(e)}`);
            if (lines.length >= 1024) flush();
          });
          flush();
        } finally {
          await reader.close();
        }
      } finally {
        await archive.close();
      }
    });
}

/** The text columns after offset, length and type: where a data extent's bytes are, or a fill's byte. */
function extentDetail(e: MapExtent): string {
  if (e.type === ExtentType.Data) return `slab=${e.slab} at=${e.slabOffset} chunk=${e.chunk}`;
  if (e.type === ExtentType.Fill) return `byte=0x${e.fillByte.toString(16).padStart(2, '0')}`;
  return '';
}
