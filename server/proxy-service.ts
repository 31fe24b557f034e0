// The range proxy (IMDPROXY, for ImDisk and Arsenal Image Mounter) as a serve-process service:
// each configured listener exports one disk of the shared catalog — a stream, one of its
// partitions, or an --offset/--length window of either — resolved and opened at startup.
import type { Logger } from 'pino';
import { ProxyServer, type ProxyListening } from '../protocols/imdproxy/server.js';
import type { ProxyExport } from '../protocols/imdproxy/session.js';
import { WindowSource } from '../fs/partitions/window-source.js';
import { DiskarcError } from '../src/errors.js';
import type { ExportCatalog } from './catalog.js';
import { checkExposure, type ProxyExportSpec, type ServeConfig } from './config.js';
import type { ProtocolService, ServeListener } from './services.js';

/** A proxy listener, with the disk it exports (a proxy client cannot choose one). */
export interface ProxyServeListener extends ServeListener {
  export: string;
  size: number;
}

export class ProxyService implements ProtocolService {
  readonly protocol = 'proxy';
  private constructor(
    readonly server: ProxyServer,
    readonly listeners: ProxyServeListener[],
  ) {}

  static async start(config: ServeConfig, catalog: ExportCatalog, log: Logger): Promise<ProxyService | undefined> {
    const wanted = config.proxy ?? [];
    if (wanted.length === 0) return undefined;
    checkExposure(
      wanted.map((w) => w.endpoint),
      config.allowRemote,
    );
    const server = new ProxyServer(log.child({ protocol: 'proxy' }));
    const listeners: ProxyServeListener[] = [];
    try {
      for (const w of wanted) {
        const l: ProxyListening = await server.listen(w.endpoint, await resolveExport(catalog, w.export));
        listeners.push({ protocol: 'proxy', uri: l.address, bound: l.bound, export: l.export.name, size: l.export.source.size });
      }
    } catch (e) {
      await server.close();
      throw e;
    }
    return new ProxyService(server, listeners);
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** Finds the disk a listener exports; every mistake is a usage error naming what to change. */
export async function resolveExport(catalog: ExportCatalog, spec: ProxyExportSpec): Promise<ProxyExport> {
  const ref = spec.stream ?? '';
  let disk = await catalog.open(ref);
  if (!disk && /^[0-9a-f]+$/i.test(ref)) {
    // An id prefix, as -s accepts: unique among the served disks' ids.
    const ids = (await catalog.list()).map((e) => e.name).filter((n) => /^[0-9a-f]{16}$/.test(n) && n.startsWith(ref.toLowerCase()));
    if (ids.length === 1) disk = await catalog.open(ids[0]!);
  }
  if (!disk) {
    throw new DiskarcError(
      'ENOSTREAM',
      ref === ''
        ? 'the range proxy needs to know which disk to export: give -s STREAM after --proxy'
        : `no served stream or image answers to "${ref}" (for the range proxy)`,
      { stream: ref },
    );
  }
  let exp: ProxyExport = { name: disk.name, source: disk.source };
  if (spec.partition !== undefined) {
    const part = await catalog.open(`${disk.name}/p${spec.partition}`);
    if (!part)
      throw new DiskarcError(
        'ENOSTREAM',
        `"${disk.name}" has no partition ${spec.partition} (see nbdinfo --list, or diskarc partitions; --no-partitions hides them)`,
        { stream: ref, partition: spec.partition },
      );
    exp = { name: part.name, source: part.source };
  }
  if (spec.offset !== undefined || spec.length !== undefined) {
    const size = exp.source.size;
    const offset = spec.offset ?? 0;
    const length = spec.length ?? size - offset;
    if (offset >= size || length <= 0 || offset + length > size) {
      throw new DiskarcError(
        'EUSAGE',
        `--offset ${offset} --length ${length} is outside "${exp.name}" (${size} bytes): the window must lie within it and be non-empty`,
        { offset, length, size },
      );
    }
    exp = { name: `${exp.name}@${offset}+${length}`, source: new WindowSource(exp.source, offset, length) };
  }
  // ImDisk refuses a disk of size 0 at INFO: say so here rather than at the Windows side.
  if (exp.source.size === 0) throw new DiskarcError('EUSAGE', `"${exp.name}" is empty: ImDisk and AIM refuse a zero-size proxy disk`);
  return exp;
}
