// Option parsers and shared option declarations, so every command spells -a, -s, --json the same.
import { InvalidArgumentError, Option, type Command } from 'commander';

export function parseSize(value: string): number {
  const m = /^(\d+)\s*([kmgt]i?b?|b)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not a size (examples: 4096, 64k, 4MiB)`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : unit === 't' ? 1024 ** 4 : 1;
  return Number(m[1]) * mult;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
}

/** -a/--archive, defaulting to $DISKARC_ARCHIVE. */
export function archiveOption(cmd: Command): Command {
  return cmd.addOption(new Option('-a, --archive <dir>', 'archive directory').env('DISKARC_ARCHIVE').makeOptionMandatory());
}

/** Cache budget for commands that read a stream once from start to end (unpack, verify). */
export const SEQUENTIAL_CACHE_MIB = 32;

/** --data-cache-size-mib; `defaultText` says what the command uses without it. */
export function cacheOption(cmd: Command, defaultText = "the archive's dataCacheMiB"): Command {
  return cmd.option('--data-cache-size-mib <mib>', `decompressed-slab cache budget in MiB (default: ${defaultText})`, parsePositiveInt);
}

export function commonOptions(cmd: Command): Command {
  return cmd.option('--json', 'machine-readable output (one JSON object)').option('-v, --verbose', 'more detail on errors and progress');
}
