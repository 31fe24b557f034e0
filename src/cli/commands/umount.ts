// `diskarc umount`: detaches a diskarc FUSE mount (also a stale one whose process was killed);
// the serving process notices and exits.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { DiskarcError } from '../../errors.js';
import { commonOptions } from '../options.js';
import { Output } from '../output.js';
import { findMount, fixCommand, isStaleFuseMount } from '../../../fs/fuse/mountpoint.js';

const run = promisify(execFile);

export function register(program: Command): void {
  const cmd = program
    .command('umount')
    .description('unmount a diskarc FUSE mount (also clears a stale one left by a killed process)')
    .argument('<mountpoint>', 'where diskarc mount mounted the archive')
    .option('-l, --lazy', 'detach now even if files are open (they keep working until closed)');
  commonOptions(cmd);
  cmd.action(async (mountpoint: string, opts: { lazy?: boolean; json?: boolean; verbose?: boolean }) => {
    const out = new Output(opts);
    const mp = resolve(mountpoint);
    try {
      await stat(mp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DiskarcError('EUSAGE', `${mp} does not exist`, { mountpoint: mp });
    }
    const entry = await findMount(mp);
    if (!entry) throw new DiskarcError('EUSAGE', `nothing is mounted on ${mp}`, { mountpoint: mp });
    if (entry.fsType !== 'fuse.diskarc') {
      throw new DiskarcError('EUSAGE', `${mp} is a ${entry.fsType} mount, not a diskarc one; use umount(8) for it`, {
        mountpoint: mp,
        fsType: entry.fsType,
      });
    }
    // Asked of the server (stat() may be answered from cached attributes): a dead one is detached lazily.
    const stale = await isStaleFuseMount(mp);
    const args = opts.lazy || stale ? ['-u', '-z', mp] : ['-u', mp];
    try {
      await run('fusermount3', args);
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
      if (/busy/i.test(stderr)) {
        throw new DiskarcError(
          'ESERVER',
          `${mp} is busy (a file in it is open or a shell is inside it); close it, or detach anyway with: diskarc umount --lazy ${mp}`,
          { mountpoint: mp, busy: true },
        );
      }
      throw new DiskarcError('ESERVER', `cannot unmount ${mp}: ${stderr}; try: ${fixCommand(mp)}`, { mountpoint: mp });
    }
    out.result({ unmounted: mp, stale }, stale ? `cleared the stale mount on ${mp}` : `unmounted ${mp}`);
  });
}
