// `diskarc mount`: the archive as a read-only FUSE file tree (docs/mount.md). Without
// --foreground the command re-runs itself detached with --foreground and returns once the
// mount is ready (or with the child's error), like mount.fuse helpers do.
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { Option, type Command } from 'commander';
import type { Archive } from '../../archive/archive.js';
import { DiskarcError, ExitCode, isDiskarcError, type ErrorCode } from '../../errors.js';
import { archiveOption, cacheOption, commonOptions } from '../options.js';
import { Output } from '../output.js';
import { StreamTree, archiveCatalog } from '../../../fs/tree/index.js';
import { FuseMount, checkMountpoint } from '../../../fs/fuse/index.js';
import { shellQuote } from '../../../fs/fuse/mountpoint.js';
import { openArchiveForServing } from '../../../server/archive-disks.js';
import { watchParentExit } from '../../../server/exit-with-parent.js';

interface MountOptions {
  archive: string;
  stream?: string;
  allowOther?: boolean;
  foreground?: boolean;
  exitWithParent?: boolean;
  dataCacheSizeMib?: number;
  logFile?: string;
  readyFd?: number;
  debugFuse?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('mount')
    .description('mount an archive read-only with FUSE: every stream as disk.img, its partitions as pN.img, NTFS files under pN/')
    .argument('<mountpoint>', 'an existing, empty directory')
    .option('-s, --stream <stream>', 'mount only this stream (id, id prefix or name): its directory becomes the root')
    .option('--allow-other', 'let other users read the mount (FUSE allow_other)')
    .option('-f, --foreground', 'stay in the foreground until unmounted (Ctrl-C or SIGTERM unmounts)')
    .option('--exit-with-parent', 'unmount and exit when the process that started this one exits (implies --foreground)')
    .option('--log-file <file>', 'when running in the background, append its diagnostics to this file')
    .option('--debug-fuse', 'print every FUSE request (libfuse debug output)')
    .addOption(new Option('--ready-fd <fd>', 'internal: report readiness on this fd').argParser(Number).hideHelp());
  archiveOption(cmd);
  cacheOption(cmd, 'the data the mounted streams can reach, at most a quarter of RAM');
  commonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Tree: /<stream>/disk.img, /<stream>/pN.img, /<stream>/pN/… (NTFS files), /<stream>/fs/… (a bare
NTFS stream), /<stream>/info.json. Unmount with: diskarc umount MOUNTPOINT (or Ctrl-C with -f).`,
  );
  cmd.action(async (mountpoint: string, opts: MountOptions) => {
    // The parent to outlive is the program that ran us, so the mount must not hand itself to a
    // background copy whose parent (this command) exits at once — as nbdkit, it implies -f.
    if (opts.foreground || opts.exitWithParent) await runForeground(mountpoint, opts);
    else await runBackground(mountpoint, opts);
  });
}

/** Re-spawns this command detached with --foreground and waits for its readiness report. */
async function runBackground(mountpoint: string, opts: MountOptions): Promise<void> {
  const out = new Output(opts);
  // Fail fast on what the parent can check itself (clear message on this terminal).
  const mp = await checkMountpoint(mountpoint);
  const args = [...process.execArgv, process.argv[1], ...process.argv.slice(2), '--foreground', '--ready-fd', '3'];
  const logFd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'ignore', logFd ?? 'ignore', 'pipe'],
  });
  if (logFd !== undefined) closeSync(logFd);
  const report = await new Promise<string>((resolve, reject) => {
    let text = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) resolve(text);
    });
    pipe.on('end', () => resolve(text));
    child.on('error', reject);
  });
  (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
  let msg: { ready?: boolean; pid?: number; error?: { code: ErrorCode; message: string; details?: Record<string, unknown> } };
  try {
    msg = JSON.parse(report.split('\n')[0]);
  } catch {
    throw new DiskarcError(
      'ESERVER',
      `the background mount process exited without ` +
        `mounting${opts.logFile ? ` (see ${opts.logFile})` : ' (run with --foreground to see why)'}`,
      { mountpoint: mp },
    );
  }
  if (msg.error) throw new DiskarcError(msg.error.code, msg.error.message, msg.error.details ?? {});
  child.unref();
  out.result(
    { mounted: mp, pid: child.pid, archive: opts.archive, stream: opts.stream ?? null },
    `mounted ${opts.archive}${opts.stream ? ` (stream ${opts.stream})` : ''} on ${mp} (process ${child.pid}); unmount with: ` +
      `diskarc umount ${shellQuote(mp)}`,
  );
}

/** How long a signalled mount process waits for its unmount and cleanup before it exits regardless. */
const UNMOUNT_DEADLINE_MS = 10_000;

function forceExit(message: string): never {
  process.stderr.write(`diskarc mount: ${message}\n`);
  process.exit(ExitCode.INTERRUPTED);
}

async function runForeground(mountpoint: string, opts: MountOptions): Promise<void> {
  const out = new Output(opts);
  const readyFd = opts.readyFd;
  let archive: Archive | undefined;
  let mount: FuseMount | undefined;
  // Watched from the start, so a parent that dies while the archive opens is not missed.
  let parentExited = false;
  let onParentExit = (): void => {
    parentExited = true;
  };
  const stopWatching = opts.exitWithParent ? watchParentExit(() => onParentExit()) : undefined;
  try {
    const mp = await checkMountpoint(mountpoint);
    // The slab cache is sized as serve sizes it (the mounted data, at most a quarter of RAM).
    const opened = await openArchiveForServing(
      resolvePath(opts.archive),
      opts.stream ? [opts.stream] : [],
      opts.dataCacheSizeMib ? opts.dataCacheSizeMib * 1024 * 1024 : undefined,
    );
    archive = opened.archive;
    const only = opts.stream ? opened.streams[0]!.id : undefined;
    const tree = new StreamTree(archiveCatalog(archive, only), { singleStream: only !== undefined });
    mount = await FuseMount.mount(tree, mp, {
      allowOther: opts.allowOther,
      fsname: archive.dir,
      debug: opts.debugFuse,
      log: (m) => process.stderr.write(`diskarc mount: ${m}\n`),
    });
    const m = mount;
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals | 'parent exit') => {
      // A second signal, or an unmount that has not finished in time (a FUSE request the kernel
      // never gets an answer to can hold libfuse's thread), ends the process anyway: the kernel
      // drops the mount with the process's /dev/fuse descriptor.
      if (signalled) forceExit(`${sig} again: exiting without waiting for the unmount of ${mp}`);
      signalled = true;
      out.verbose(`${sig}: unmounting ${mp}`);
      setTimeout(
        () => forceExit(`the unmount of ${mp} did not finish within ${UNMOUNT_DEADLINE_MS / 1000} s: exiting`),
        UNMOUNT_DEADLINE_MS,
      ).unref();
      void m.unmount();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    onParentExit = () => onSignal('parent exit');
    if (parentExited) onParentExit();
    // fuse-native's handles do not keep Node alive; this does, until the mount goes away.
    const keepAlive = setInterval(() => {}, 1 << 30);
    if (readyFd !== undefined) {
      writeSync(readyFd, JSON.stringify({ ready: true, pid: process.pid }) + '\n');
      closeSync(readyFd);
    } else {
      out.result(
        { mounted: mp, pid: process.pid },
        `mounted ${archive.dir} on ${mp}; Ctrl-C or "diskarc umount ${shellQuote(mp)}" unmounts`,
      );
    }
    await m.closed;
    clearInterval(keepAlive);
    stopWatching?.();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await tree.close();
    archive = undefined;
    out.verbose(`unmounted ${mp}`);
    // libfuse's thread may linger after the unmount; never let it keep the process alive.
    setTimeout(() => process.exit(), 2000).unref();
  } catch (e) {
    stopWatching?.();
    if (mount) await mount.unmount().catch(() => {});
    if (archive) await archive.close().catch(() => {});
    if (readyFd !== undefined) {
      const err = isDiskarcError(e)
        ? { code: e.code, message: e.message, details: e.details }
        : { code: 'ESERVER', message: (e as Error).message };
      try {
        writeSync(readyFd, JSON.stringify({ error: err }) + '\n');
        closeSync(readyFd);
      } catch {
        // The parent is gone; the error still reaches our stderr below.
      }
    }
    throw e;
  }
}
