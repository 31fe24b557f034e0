// `diskarc serve`: serves archived streams (and their partitions) read-only until SIGINT/SIGTERM.
// NBD and the range proxy (--proxy); further protocols (--webdav) join the same process and catalog.
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { DiskarcError } from '../../errors.js';
import { cacheOption, commonOptions, parseSize } from '../options.js';
import { formatBytes, Output } from '../output.js';
import {
  DEFAULT_NBD_PORT,
  DEFAULT_PROXY_PORT,
  DEFAULT_WEBDAV_PORT,
  groupProxyOptions,
  parseStreamRef,
  parseTcpAddress,
  type ProxyOption,
  type ServeConfig,
} from '../../../server/config.js';
import { createLogger, logLevels, type LogLevel } from '../../../server/logging.js';
import { ServeProcess, stopOnSignal } from '../../../server/lifecycle.js';
import { openArchiveDisks } from '../../../server/archive-disks.js';
import { listPartitions } from '../../../server/partitions.js';
import type { NbdEndpoint } from '../../../protocols/nbd/server.js';

interface ServeOptions {
  archive?: string;
  stream?: string[];
  image?: string[];
  nbd?: Array<string | true>;
  nbdSocket?: string[];
  webdav?: string[];
  webdavUser?: string;
  webdavPasswordFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  partitions: boolean;
  allowRemote?: boolean;
  exitWithParent?: boolean;
  dataCacheSizeMib?: number;
  logLevel?: LogLevel;
  json?: boolean;
  verbose?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The proxy-related options in command-line order (a --proxy exports the -s that follows it). */
type ProxyArg =
  | { kind: 'listener'; tcp?: string; socket?: string }
  | { kind: 'stream'; ref: string }
  | { kind: 'offset' | 'length'; value: string };

export function register(program: Command): void {
  const proxyArgs: ProxyArg[] = [];
  const cmd = program
    .command('serve')
    .description('serve archived disks read-only over NBD, the range proxy (ImDisk / AIM) and WebDAV until interrupted (SIGINT/SIGTERM)')
    .addOption(new Option('-a, --archive <dir>', 'archive directory').env('DISKARC_ARCHIVE'))
    .option(
      '-s, --stream <ref>',
      'serve only this stream (id, id prefix or name; repeatable); the first is the default export; after --proxy: what it ' +
        'exports (STREAM or STREAM:pN)',
      (v: string, prev?: string[]) => {
        proxyArgs.push({ kind: 'stream', ref: v });
        return collect(v, prev);
      },
    )
    .option('--image <file>', 'also serve a raw image file or block device (repeatable)', collect)
    .addOption(
      // preset: commander skips the parser for a bare `--nbd`; the preset value goes through it.
      new Option(
        '--nbd [address]',
        `NBD on TCP HOST:PORT (default ${'127.0.0.1'}:${DEFAULT_NBD_PORT}; port 0 picks a free one; repeatable)`,
      )
        .preset(`127.0.0.1:${DEFAULT_NBD_PORT}`)
        .argParser((v: string, prev: Array<string | true> = []) => [...prev, v]),
    )
    .option('--nbd-socket <path>', 'NBD on a Unix socket (repeatable)', collect)
    .addOption(
      new Option(
        '--proxy [address]',
        'range proxy (IMDPROXY, for ImDisk / Arsenal Image Mounter) on TCP [HOST:]PORT (port 0 picks a free one; repeatable), ' +
          'exporting the -s given after it; NO authentication',
      )
        .preset(`127.0.0.1:${DEFAULT_PROXY_PORT}`)
        .argParser((v: string, prev: Array<string | true> = []) => {
          proxyArgs.push({ kind: 'listener', tcp: v });
          return [...prev, v];
        }),
    )
    .option(
      '--proxy-socket <path>',
      'range proxy on a Unix socket (local tools), exporting the -s given after it',
      (v: string, prev?: string[]) => {
        proxyArgs.push({ kind: 'listener', socket: v });
        return collect(v, prev);
      },
    )
    .option(
      '--offset <bytes>',
      'a proxy listener exports the window from this offset of its -s (with --length; 64k, 1MiB… accepted)',
      (v: string) => {
        proxyArgs.push({ kind: 'offset', value: v });
        return v;
      },
    )
    .option('--length <bytes>', 'length of that window (default: to the end)', (v: string) => {
      proxyArgs.push({ kind: 'length', value: v });
      return v;
    })
    .option(
      '--webdav <address>',
      `read-only WebDAV share and browser page on TCP [HOST:]PORT (e.g. 8080 = 127.0.0.1:${DEFAULT_WEBDAV_PORT}; repeatable)`,
      collect,
    )
    .option('--webdav-user <user>', 'require HTTP Basic authentication as this user (with --webdav-password-file)')
    .option('--webdav-password-file <file>', 'the password for --webdav-user: the first line of this file')
    .option('--tls-cert <file>', 'serve WebDAV over HTTPS with this PEM certificate (chain), with --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--no-partitions', 'do not export partitions as NAME/pN')
    .option('--allow-remote', 'allow listening on non-loopback addresses (anyone reaching them can read every served disk)')
    .option('--exit-with-parent', 'stop (as on SIGTERM) when the process that started serve exits')
    .addOption(new Option('--log-level <level>', 'log level of the JSON logs on stderr').choices(logLevels))
    .addHelpText(
      'after',
      `
Without --nbd or --nbd-socket (and no --proxy or --webdav), NBD listens on 127.0.0.1:${DEFAULT_NBD_PORT}.
Range proxy: each --proxy/--proxy-socket exports one disk, the -s STREAM or STREAM:pN (partition N)
after it, optionally cut to --offset/--length; listeners given together share it. The protocol has
no authentication: anyone who reaches the port reads that disk (loopback unless --allow-remote).
Windows: imdisk -a -t proxy -o ip -f HOST:PORT -m R:   or   aim_ll -a -t proxy -o ip -f HOST:PORT
Exports: every stream by name and by id, and each partition as NAME/pN. Without -s, streams
packed while serving are exported within 2 s (removed ones withdrawn); -s fixes the set at startup.

Examples:
  diskarc serve -a /backups --nbd 127.0.0.1:10809
  diskarc serve -a /backups -s web01 --nbd-socket /run/diskarc.sock
  nbdinfo --list nbd://127.0.0.1:10809
  nbdcopy nbd://127.0.0.1:10809/web01 web01.img
  diskarc serve -a /backups --proxy 0.0.0.0:9000 -s web01:p2 --allow-remote
  diskarc serve -a /backups --proxy 9000 -s web01 --proxy 9001 -s db01 --offset 1MiB --length 8GiB
  diskarc serve -a /backups --webdav 8080        # then: rclone lsf --webdav-url http://127.0.0.1:8080/ :webdav:`,
    );
  cacheOption(cmd, 'the data the served streams can reach, at most a quarter of RAM');
  commonOptions(cmd);
  cmd.action(async (opts: ServeOptions) => {
    process.exitCode = await serve(opts, proxyArgs);
  });
}

async function serve(opts: ServeOptions, proxyArgs: ProxyArg[]): Promise<number> {
  const parentPid = process.ppid;
  const out = new Output(opts);
  const images = opts.image ?? [];
  if (opts.archive === undefined && images.length === 0) {
    throw new DiskarcError('EUSAGE', 'nothing to serve: give -a/--archive DIR (or set DISKARC_ARCHIVE), or --image FILE');
  }
  const nbd: NbdEndpoint[] = [];
  const tcp = opts.nbd ?? [];
  for (const v of tcp) nbd.push({ kind: 'tcp', ...parseTcpAddress(v === true ? '' : v, DEFAULT_NBD_PORT) });
  for (const p of opts.nbdSocket ?? []) nbd.push({ kind: 'unix', path: resolve(p) });
  const proxy = groupProxyOptions(proxyArgs.map(proxyOption));
  if (nbd.length === 0 && proxy.length === 0 && opts.webdav === undefined)
    nbd.push({ kind: 'tcp', ...parseTcpAddress('', DEFAULT_NBD_PORT) });
  const webdav =
    opts.webdav === undefined
      ? undefined
      : {
          endpoints: opts.webdav.map((v) => parseTcpAddress(v, DEFAULT_WEBDAV_PORT)),
          user: opts.webdavUser,
          passwordFile: opts.webdavPasswordFile !== undefined ? resolve(opts.webdavPasswordFile) : undefined,
          tlsCert: opts.tlsCert !== undefined ? resolve(opts.tlsCert) : undefined,
          tlsKey: opts.tlsKey !== undefined ? resolve(opts.tlsKey) : undefined,
        };
  if (webdav === undefined && (opts.webdavUser ?? opts.webdavPasswordFile ?? opts.tlsCert ?? opts.tlsKey) !== undefined) {
    throw new DiskarcError('EUSAGE', '--webdav-user, --webdav-password-file, --tls-cert and --tls-key need --webdav [HOST:]PORT');
  }

  const config: ServeConfig = {
    archive: opts.archive,
    streams: (opts.stream ?? []).map((s) => parseStreamRef(s).stream),
    images,
    cacheBytes: opts.dataCacheSizeMib !== undefined ? opts.dataCacheSizeMib * 1024 * 1024 : undefined,
    partitions: opts.partitions,
    nbd,
    proxy,
    webdav,
    allowRemote: opts.allowRemote === true,
    logLevel: opts.logLevel ?? (opts.verbose ? 'debug' : 'info'),
  };
  const log = createLogger(config.logLevel);
  const proc = await ServeProcess.start(config, log, { openArchive: openArchiveDisks, partitions: listPartitions });
  const stopped = stopOnSignal(proc, log, { exitWithParent: opts.exitWithParent === true, parentPid });
  const exports = await proc.exports();
  out.result(
    {
      listening: proc.listeners.map((l) => ({
        protocol: l.protocol,
        uri: l.uri,
        ...(l.bound.kind === 'tcp' ? { host: l.bound.host, port: l.bound.port } : { socket: l.bound.path }),
        ...('export' in l ? { export: l.export } : {}),
      })),
      exports,
      pid: process.pid,
    },
    () => {
      const width = Math.max(4, ...exports.map((e) => e.name.length));
      const lines = ['diskarc serve: ready (Ctrl-C to stop)'];
      for (const l of proc.listeners)
        lines.push(`  ${l.protocol.toUpperCase()}  ${l.uri}${'export' in l ? `  exports ${String(l.export)}` : ''}`);
      lines.push('exports:');
      for (const e of exports)
        lines.push(`  ${e.name.padEnd(width)}  ${(e.size !== undefined ? formatBytes(e.size) : '').padStart(10)}  ${e.description}`);
      const first = proc.listeners.find((l) => l.protocol === 'nbd');
      if (first) lines.push(`try: nbdinfo --list '${first.uri}'`);
      const dav = proc.listeners.find((l) => l.protocol === 'webdav');
      if (dav) lines.push(`try: rclone lsf --webdav-url ${dav.uri} :webdav:   (or open ${dav.uri} in a browser)`);
      return lines.join('\n');
    },
  );
  await stopped;
  return 0;
}

function proxyOption(a: ProxyArg): ProxyOption {
  if (a.kind === 'stream') return a;
  if (a.kind === 'listener') {
    return {
      kind: 'listener',
      endpoint:
        a.socket !== undefined
          ? { kind: 'unix', path: resolve(a.socket) }
          : { kind: 'tcp', ...parseTcpAddress(a.tcp ?? '', DEFAULT_PROXY_PORT) },
    };
  }
  let value: number;
  try {
    value = parseSize(a.value);
  } catch (e) {
    throw new DiskarcError('EUSAGE', `--${a.kind}: ${(e as Error).message}`);
  }
  return { kind: a.kind, value };
}
