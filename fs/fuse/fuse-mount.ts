// Mounting a VirtualTree with fuse-native (libfuse 2, multithreaded loop): read-only mount
// options, the connection's kernel tunables (readahead up, background requests down), readiness,
// and unmount — by us, or noticed when someone else unmounts (fusermount -u / diskarc umount).
import { readFile, writeFile } from 'node:fs/promises';
import Fuse from 'fuse-native';
import { DiskarcError } from '../../src/errors.js';
import type { VirtualTree } from '../tree/types.js';
import { directReadHandler, fuseReadBinding, type FuseReadOp } from './direct-read.js';
import { ensureFusectl, FUSECTL_DIR } from './fusectl.js';
import { findMount } from './mountpoint.js';
import { createOperations, HandleTable } from './operations.js';
import { ReadaheadBudget } from './readahead.js';

export interface FuseMountOptions {
  /** Let other users see the mount (needs user_allow_other in /etc/fuse.conf unless root). */
  allowOther?: boolean;
  /** Shown as the mount's source in /proc/mounts (the archive directory). */
  fsname?: string;
  debug?: boolean;
  log?: (msg: string) => void;
  /** Bytes all readahead windows together may hold (default 256 MiB). */
  readaheadBudgetBytes?: number;
  /** Kernel readahead for the mount in KiB (default 4096; best effort, needs root). */
  kernelReadaheadKiB?: number;
  /** Background (readahead) requests the kernel keeps in flight (default 6; best effort, needs root). */
  maxBackground?: number;
}

/**
 * Why 6 and not the kernel's 12: libfuse 2 starts a worker thread whenever every worker is busy
 * and ends one whenever more than 10 are idle, so a connection that keeps ~12 requests in flight
 * makes it create and retire threads endlessly (the thread counts are in docs/mount.md).
 * Each new thread costs fuse-native a synchronous round trip to the event loop plus a uv_async
 * handle it never frees, and libuv scans every such handle on each wakeup, so the mount gets
 * slower the longer it serves. With 6 background requests (plus a few synchronous ones) the pool
 * settles below 10 workers: no churn, and faster cold sequential reads (docs/mount.md).
 */
export const DEFAULT_MAX_BACKGROUND = 6;

/** Seconds the kernel may cache attributes and names: the content never changes while mounted. */
const ATTR_TIMEOUT = 3600;
const MOUNT_POLL_MS = 1000;

/**
 * fuse-native with our own option string (it has no `ro`, and its other options must be spelt
 * exactly) and reads dispatched by directReadHandler instead of its generic wrapper.
 */
export class DiskarcFuse extends Fuse {
  constructor(
    mnt: string,
    ops: Record<string, (...args: never[]) => void>,
    private readonly optionList: string[],
    opts: Record<string, unknown>,
  ) {
    super(mnt, ops, opts);
  }
  override _fuseOptions(): string {
    return '-o' + this.optionList.join(',');
  }
  // Runs inside fuse-native's constructor: `this.ops` is set, this class's own fields are not yet.
  override _makeHandlerArray(): unknown[] {
    const handlers = super._makeHandlerArray();
    const read = this.ops.read as FuseReadOp | undefined;
    const log = (this.opts.log as ((m: string) => void) | undefined) ?? ((m: string) => process.stderr.write(`diskarc mount: ${m}\n`));
    if (read) handlers[fuseReadBinding().op_read] = directReadHandler(read, log);
    return handlers;
  }
}

function optionValue(s: string): string {
  // Commas separate mount options and libfuse 2 does not unescape them; keep the label readable.
  return s.replace(/[,\s\\]/g, '_');
}

export class FuseMount {
  private unmounting?: Promise<void>;
  private poll?: NodeJS.Timeout;
  private resolveClosed!: () => void;
  /** Resolves once the mount is gone, whoever unmounted it. */
  readonly closed: Promise<void> = new Promise((r) => (this.resolveClosed = r));

  private constructor(
    readonly mountPoint: string,
    private readonly fuse: Fuse,
    private readonly handles: HandleTable,
    private readonly log: (msg: string) => void,
  ) {}

  static async mount(tree: VirtualTree, mountPoint: string, opts: FuseMountOptions = {}): Promise<FuseMount> {
    const log = opts.log ?? ((m: string) => process.stderr.write(`diskarc mount: ${m}\n`));
    const handles = new HandleTable();
    const ops = createOperations(tree, handles, {
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      log,
      readaheadBudget: new ReadaheadBudget(opts.readaheadBudgetBytes ?? 256 * 1024 * 1024),
    });
    const options = [
      'ro',
      'default_permissions',
      `fsname=${optionValue(opts.fsname ?? 'diskarc')}`,
      'subtype=diskarc',
      'max_read=1048576',
      `entry_timeout=${ATTR_TIMEOUT}`,
      `attr_timeout=${ATTR_TIMEOUT}`,
      // Files never change, so pages cached by one open stay valid for the next.
      'kernel_cache',
      // st_ino is ours (TreeNode.ino), not libfuse's per-path node id: hard links share one.
      'use_ino',
      ...(opts.allowOther ? ['allow_other'] : []),
      ...(opts.debug ? ['debug'] : []),
    ];
    // fuse-native fails an operation with ETIMEDOUT after this long; a cold read of a large
    // window on a busy machine must not hit that. (Reads bypass its watchdog: directReadHandler.)
    const fuse = new DiskarcFuse(mountPoint, ops, options, { timeout: 300_000, log });
    await new Promise<void>((resolve, reject) => {
      fuse.mount((err) => {
        if (err) {
          reject(
            new DiskarcError(
              'ESERVER',
              `cannot mount on ${mountPoint}: ${err.message} (is /dev/fuse available and are you root or allowed to use fusermount?)`,
              { mountpoint: mountPoint },
              { cause: err },
            ),
          );
        } else resolve();
      });
    });
    const m = new FuseMount(mountPoint, fuse, handles, log);
    await tuneFuseConnection(mountPoint, { readaheadKiB: opts.kernelReadaheadKiB, maxBackground: opts.maxBackground }, log);
    m.watch();
    return m;
  }

  /** Open file handles right now. */
  get openHandles(): number {
    return this.handles.size;
  }

  /** Notices an unmount done by someone else (fusermount -u, diskarc umount, umount -l). */
  private watch(): void {
    this.poll = setInterval(() => {
      findMount(this.mountPoint).then(
        (m) => {
          if (!m && !this.unmounting) {
            this.unmounting = this.finish();
          }
        },
        () => {},
      );
    }, MOUNT_POLL_MS);
  }

  /** Unmounts (lazily, so a busy mount still detaches) and closes every open handle. */
  unmount(): Promise<void> {
    this.unmounting ??= (async () => {
      await new Promise<void>((resolve) => {
        this.fuse.unmount((err) => {
          if (err) this.log(`unmount of ${this.mountPoint}: ${err.message}`);
          resolve();
        });
      });
      await this.finish();
    })();
    return this.unmounting;
  }

  private async finish(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    await this.handles.closeAll();
    this.resolveClosed();
  }
}

/**
 * Sets the kernel's tunables for the FUSE connection behind `mountPoint` — best effort, since
 * both files need root; each failure is one line to `log`. fusectl, where max_background lives,
 * is mounted first when it is missing (root only: see fusectl.ts). Readahead goes up: the kernel caps
 * FUSE readahead at the bdi's read_ahead_kb (128 KiB by default), and a larger window keeps
 * several reads in flight so sequential copies stream. max_background goes down, to keep libfuse's
 * worker pool steady (see DEFAULT_MAX_BACKGROUND).
 */
export async function tuneFuseConnection(
  mountPoint: string,
  { readaheadKiB = 4096, maxBackground = DEFAULT_MAX_BACKGROUND }: { readaheadKiB?: number; maxBackground?: number },
  log: (msg: string) => void,
): Promise<void> {
  let dev: string | undefined;
  try {
    dev = await findMountDev(mountPoint);
  } catch (e) {
    log(`cannot tune the FUSE connection of ${mountPoint}: ${(e as Error).message}`);
    return;
  }
  if (!dev) {
    log(`cannot tune the FUSE connection of ${mountPoint}: it is not in /proc/self/mountinfo`);
    return;
  }
  try {
    const path = `/sys/class/bdi/${dev}/read_ahead_kb`;
    const current = Number((await readFile(path, 'utf8')).trim());
    if (current < readaheadKiB) await writeFile(path, `${readaheadKiB}\n`);
  } catch (e) {
    log(`could not raise kernel readahead: ${(e as Error).message}`);
  }
  // Without fusectl the kernel keeps its max_background of 12; say once, plainly, what that costs.
  const lost =
    "this mount keeps the kernel's max_background of 12, so libfuse's worker pool churns under sequential reads (slower reads, " +
    'and a handle leaked per worker thread created)';
  const missing = await ensureFusectl();
  if (missing) {
    log(`${missing}: ${lost}; to fix it, run as root: mount -t fusectl fusectl ${FUSECTL_DIR}`);
    return;
  }
  try {
    await writeFile(`${fuseConnectionDir(dev)}/max_background`, `${maxBackground}\n`);
  } catch (e) {
    log(`could not set the FUSE connection's max_background in ${fuseConnectionDir(dev)}: ${(e as Error).message}; ${lost}`);
  }
}

/** The fusectl directory of the connection behind a FUSE mount's "major:minor" (named by its dev_t). */
function fuseConnectionDir(dev: string): string {
  const [major, minor] = dev.split(':').map(Number);
  return `${FUSECTL_DIR}/${(major! << 20) | minor!}`;
}

/** "major:minor" of the filesystem mounted at `mountPoint` (its bdi is named after it). */
async function findMountDev(mountPoint: string): Promise<string | undefined> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = mountPoint.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
  for (const line of text.split('\n').reverse()) {
    const f = line.split(' ');
    if (f[4] === escaped) return f[2];
  }
  return undefined;
}
