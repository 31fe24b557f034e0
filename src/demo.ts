// `npm start`: the main job on a generated sample. Writes a sample MBR disk (random, repeated,
// zero and 0xFF regions, text, holes) into ./demo/, packs it into ./demo/archive with the CLI,
// serves the archive over NBD (Unix socket + 127.0.0.1) and WebDAV (127.0.0.1, with the browser
// page) and prints the commands that connect.
// Ctrl-C or SIGTERM stops it, and so does its parent's death (npm's, when run by `npm start`).
// Options: --dir DIR (default ./demo), --port N (NBD, default 10809; 0 = any free),
// --webdav-port N (default 8080; 0 = any free). A busy port falls back to a free one.
import { spawn } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Archive } from './archive/archive.js';
import { writeSampleDisk } from './sample-disk.js';
import { isDiskarcError } from './errors.js';
import { formatBytes } from './cli/output.js';
import { ServeProcess, stopOnSignal } from '../server/lifecycle.js';
import { createLogger } from '../server/logging.js';
import { openArchiveDisks } from '../server/archive-disks.js';
import { listPartitions } from '../server/partitions.js';
import type { ServeConfig } from '../server/config.js';

const STREAM = 'sample';
const cli = fileURLToPath(new URL('./cli/main.js', import.meta.url));

function diskarc(args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`diskarc ${args.join(' ')} exited with ${code}`))));
  });
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

async function hasStream(archiveDir: string): Promise<boolean> {
  if (!(await exists(archiveDir))) return false;
  const archive = await Archive.open(archiveDir);
  try {
    return (await archive.listStreams()).some((s) => s.name === STREAM);
  } finally {
    await archive.close();
  }
}

async function main(): Promise<number> {
  // Packing comes first and takes a while: a parent that dies meanwhile must still stop the demo.
  const parentPid = process.ppid;
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: 'demo' },
      port: { type: 'string', default: '10809' },
      'webdav-port': { type: 'string', default: '8080' },
    },
  });
  const dir = resolve(values.dir!);
  const image = join(dir, 'sample-disk.img');
  const archiveDir = join(dir, 'archive');
  await mkdir(dir, { recursive: true });

  if (!(await hasStream(archiveDir))) {
    const layout = await writeSampleDisk(image, 64);
    process.stdout.write(
      `wrote ${image}: ${formatBytes(layout.size)} MBR disk, ${layout.partitions.length} partitions (random, repeated, zero, ` +
        `0xFF and text regions, holes)\n`,
    );
    if (!(await exists(archiveDir))) await diskarc(['create', '-a', archiveDir]);
    await diskarc(['pack', '-a', archiveDir, image, '--name', STREAM]);
  } else {
    process.stdout.write(`reusing ${archiveDir} (delete ${dir} to start over)\n`);
  }

  const socket = join(dir, 'nbd.sock');
  const config = (port: number, davPort: number): ServeConfig => ({
    archive: archiveDir,
    streams: [],
    images: [],
    partitions: true,
    nbd: [
      { kind: 'unix', path: socket },
      { kind: 'tcp', host: '127.0.0.1', port },
    ],
    webdav: { endpoints: [{ host: '127.0.0.1', port: davPort }] },
    allowRemote: false,
    logLevel: 'warn',
  });
  const log = createLogger('warn');
  const deps = { openArchive: openArchiveDisks, partitions: listPartitions };
  let proc: ServeProcess;
  try {
    proc = await ServeProcess.start(config(Number(values.port), Number(values['webdav-port'])), log, deps);
  } catch (e) {
    if (!isDiskarcError(e, 'ESERVER') || !/address already in use/.test(e.message)) throw e;
    process.stdout.write(`port ${values.port} or ${values['webdav-port']} is busy; using free ports instead\n`);
    proc = await ServeProcess.start(config(0, 0), log, deps);
  }
  // Always: npm forwards signals to its child only in some versions, and a demo outliving
  // `npm start` would hold the port and socket (the start script execs node, so npm is the parent).
  const stopped = stopOnSignal(proc, log, { exitWithParent: true, parentPid });
  const tcp = proc.listeners
    .filter((l) => l.protocol === 'nbd')
    .map((l) => l.bound)
    .find((b) => b.kind === 'tcp');
  const port = tcp?.kind === 'tcp' ? tcp.port : 0;
  const dav = proc.listeners.find((l) => l.protocol === 'webdav')!.uri;
  const unix = (name: string) => `'nbd+unix:///${name}?socket=${socket}'`;
  const exports = await proc.exports();
  const lines = [
    '',
    `Serving ${archiveDir} over NBD (read-only) on ${socket} and 127.0.0.1:${port}:`,
    ...exports.map((e) => `  ${e.name.padEnd(22)} ${formatBytes(e.size ?? 0).padStart(10)}  ${e.description}`),
    '',
    'Connect with:',
    `  $ nbdinfo --list ${unix('')}`,
    `  $ nbdinfo --map ${unix(STREAM)}`,
    `  $ qemu-img info nbd://127.0.0.1:${port}/${STREAM}`,
    `  $ nbdcopy ${unix(`${STREAM}/p1`)} ${join(dir, 'p1.img')}`,
    `  $ nbdcopy nbd://127.0.0.1:${port}/${STREAM} ${join(dir, 'restored.img')} && cmp ${join(dir, 'restored.img')} ${image}`,
    '',
    `The same archive as a read-only WebDAV share (the tree \`diskarc mount\` shows) on ${dav}`,
    'Open it in a browser, or:',
    `  $ rclone --config /dev/null lsf -R --webdav-url ${dav} :webdav:${STREAM}`,
    `  $ curl -s ${dav}${STREAM}/info.json`,
    `  $ curl -s -r 1048576-1049599 ${dav}${STREAM}/disk.img | cmp - <(tail -c +1048577 ${image} | head -c 1024)`,
    `  Windows:  net use Z: ${dav.replace(/\/$/, '')}   (files over 50 MB need FileSizeLimitInBytes raised: see docs/webdav.md)`,
    '',
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  await stopped;
  process.stdout.write('stopped.\n');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = isDiskarcError(e) ? e.exitCode : 1;
  },
);
