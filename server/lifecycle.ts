// Lifecycle of a serve process: open what is served once, build the shared export catalog, start
// each configured protocol on it, and shut everything down along one path (signal → stop
// listening → finish in-flight replies → close sources and the archive). Protocols are services
// (services.ts); later ones (WebDAV, range proxy) join the `starters` list.
import type { Logger } from 'pino';
import type { NbdServer } from '../protocols/nbd/server.js';
import type { NbdExportEntry } from '../protocols/nbd/exports.js';
import { NbdService } from './nbd-service.js';
import { ProxyService } from './proxy-service.js';
import { WebDavService } from './webdav-service.js';
import type { ProtocolService, ServeListener, ServiceStarter } from './services.js';
import { ExportCatalog, type PartitionLister, type ServedDisk } from './catalog.js';
import { checkExposure, type ServeConfig } from './config.js';
import { openImageDisks, type OpenedDisks } from './disks.js';
import { DiskarcError } from '../src/errors.js';
import { watchParentExit } from './exit-with-parent.js';

export type { ServeListener } from './services.js';

const starters: ServiceStarter[] = [NbdService.start, ProxyService.start, WebDavService.start];

export interface ServeDependencies {
  /** Opens the archive's streams as disks (wired by the CLI; separate so tests can serve raw images). */
  openArchive?: (config: ServeConfig) => Promise<OpenedDisks>;
  partitions?: PartitionLister;
}

export class ServeProcess {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly catalog: ExportCatalog,
    readonly services: ProtocolService[],
    private readonly opened: OpenedDisks[],
    private readonly log: Logger,
  ) {}

  static async start(config: ServeConfig, log: Logger, deps: ServeDependencies = {}): Promise<ServeProcess> {
    checkExposure(config.nbd, config.allowRemote);
    const opened: OpenedDisks[] = [];
    const closeOpened = async (): Promise<void> => {
      await Promise.allSettled(opened.map((o) => o.close()));
    };
    try {
      if (config.archive !== undefined) {
        if (!deps.openArchive) throw new DiskarcError('EUSAGE', 'this build cannot open archives for serving');
        opened.push(await deps.openArchive(config));
      }
      if (config.images.length > 0) opened.push(await openImageDisks(config.images));
    } catch (e) {
      await closeOpened();
      throw e;
    }
    const warned = new Set<string>();
    const warn = (warnings: string[]): void => {
      for (const w of warnings) if (!warned.has(w)) log.warn(w);
      for (const w of warnings) warned.add(w);
    };
    warn(opened.flatMap((o) => o.warnings ?? []));
    const disks: ServedDisk[] = opened.flatMap((o) => o.disks);
    const growing = opened.some((o) => o.refresh);
    if (disks.length === 0 && !growing) {
      await closeOpened();
      throw new DiskarcError('ENOSTREAM', 'nothing to serve: no stream matched and no --image was given');
    }
    if (disks.length === 0) log.warn('the archive has no streams yet: streams are served as they are packed');
    const refresh = async (): Promise<ServedDisk[]> => {
      const lists = await Promise.all(opened.map(async (o) => (o.refresh ? o.refresh() : { disks: o.disks, warnings: [] })));
      warn(lists.flatMap((l) => l.warnings));
      return lists.flatMap((l) => l.disks);
    };
    const catalog = new ExportCatalog(disks, {
      partitions: config.partitions && deps.partitions ? loggedLister(deps.partitions, log) : undefined,
      defaultExport: config.streams.length > 0 ? disks[0]!.id : undefined,
      ...(growing
        ? {
            refresh,
            onChange: (added: ServedDisk[], removed: ServedDisk[]) =>
              log.info(
                { added: added.map((d) => ({ id: d.id, name: d.name })), removed: removed.map((d) => ({ id: d.id, name: d.name })) },
                'exports changed',
              ),
            onRefreshError: (e: unknown) =>
              log.error({ err: (e as Error).message }, "cannot re-read the archive's streams; serving the last listing"),
          }
        : {}),
    });
    const services: ProtocolService[] = [];
    try {
      for (const start of starters) {
        const service = await start(config, catalog, log);
        if (service) services.push(service);
      }
    } catch (e) {
      await Promise.allSettled(services.map((s) => s.close()));
      await catalog.close();
      await closeOpened();
      throw e;
    }
    const view = { services: () => services, cacheStats: () => opened.find((o) => o.cacheStats)?.cacheStats?.() };
    for (const s of services) s.observe?.(view);
    const cacheBytes = opened.reduce((n, o) => n + (o.cacheBytes ?? 0), 0);
    log.info({ disks: disks.length, cacheBytes, listeners: services.flatMap((s) => s.listeners.map((l) => l.uri)) }, 'serving');
    return new ServeProcess(catalog, services, opened, log);
  }

  get listeners(): ServeListener[] {
    return this.services.flatMap((s) => s.listeners);
  }

  /** The NBD server, when NBD is configured. */
  get nbdServer(): NbdServer | undefined {
    return this.services.find((s): s is NbdService => s instanceof NbdService)?.server;
  }

  exports(): Promise<NbdExportEntry[]> {
    return this.catalog.list();
  }

  /** Idempotent graceful stop. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('shutting down: closing listeners, finishing in-flight requests');
      await Promise.allSettled(this.services.map((s) => s.close()));
      await this.catalog.close();
      await Promise.allSettled(this.opened.map((o) => o.close()));
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}

/** A damaged partition table must not hide the whole disk: log it, serve no partitions for it. */
function loggedLister(lister: PartitionLister, log: Logger): PartitionLister {
  return async (disk) => {
    try {
      return await lister(disk);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'partition table unreadable; serving the whole disk only');
      return [];
    }
  };
}

/** Repeats of the first signal within this window are echoes, not a user insisting. */
const SIGNAL_ECHO_MS = 500;

/** Why a serve process stopped: a signal, or (with exitWithParent) its parent's death. */
export type StopReason = NodeJS.Signals | 'parent-exit';

export interface StopOptions {
  /** Also stop, as on SIGTERM, when the parent process exits (qemu-nbd's and nbdkit's --exit-with-parent). */
  exitWithParent?: boolean;
  /** The parent pid seen at startup (default: the parent now): a parent that died before serving began still counts. */
  parentPid?: number;
}

/**
 * Installs SIGINT/SIGTERM handlers at once — call it before announcing readiness, so that a
 * signal sent the moment the ready line appears is never met by the default action — and
 * resolves with the reason once the process has stopped gracefully.
 * A second signal during shutdown exits at once (code 130) — unless it comes within
 * SIGNAL_ECHO_MS of the first: Ctrl-C under `npm start` reaches node both from the terminal and
 * forwarded by npm, and that must still shut down gracefully.
 */
export function stopOnSignal(proc: ServeProcess, log: Logger, opts: StopOptions = {}): Promise<StopReason> {
  let first = 0;
  const force = (s: NodeJS.Signals): void => {
    if (Date.now() - first < SIGNAL_ECHO_MS) return;
    log.warn({ signal: s }, 'second signal: exiting without waiting');
    process.exit(130);
  };
  const received = new Promise<StopReason>((resolve) => {
    let unwatch = (): void => {};
    const begin = (reason: StopReason): void => {
      first = Date.now();
      // Add the follow-up handler before removing this one: with no listener at all, even for an
      // instant, the default action would kill the process.
      process.on('SIGINT', force);
      process.on('SIGTERM', force);
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      unwatch();
      resolve(reason);
    };
    const on = (s: NodeJS.Signals): void => begin(s);
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    if (opts.exitWithParent) unwatch = watchParentExit(() => begin('parent-exit'), undefined, opts.parentPid);
  });
  return received.then(async (reason) => {
    if (reason === 'parent-exit') log.info({ ppid: process.ppid }, 'parent process exited');
    else log.info({ signal: reason }, 'signal received');
    await proc.stop();
    // Let the echo window pass with the handlers still installed: an echo arriving while the
    // process tears down would meet the default action and turn exit code 0 into death by signal.
    const left = SIGNAL_ECHO_MS - (Date.now() - first);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    return reason;
  });
}
