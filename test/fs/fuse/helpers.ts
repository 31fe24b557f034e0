// Helpers for the FUSE tests: a disk image with populated ext4 and FAT partitions (built with the
// real mkfs tools), an archive holding it, and `diskarc mount --foreground` run as a child process
// (the test process never serves FUSE, so it can use tools freely; they still run as async children).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, diskarc, run, seededBytes, type RunResult } from '../../archive/harness.js';

export { CLI, diskarc, run, seededBytes, type RunResult };
export const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

/** Runs a bash script as an async child; output is decoded once at the end (UTF-8 names intact). */
export function sh(script: string, cwd?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}

export async function mustSh(script: string, cwd?: string): Promise<string> {
  const r = await sh(script, cwd);
  if (r.code !== 0) throw new Error(`${script} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Partition layout of the fixture disk (MiB offsets, as given to sfdisk). */
export interface FixtureDisk {
  disk: string;
  ext4: string;
  vfat: string;
  /** Files written into both filesystems (name → content). */
  files: Record<string, Buffer>;
}

/**
 * A 64 MiB MBR disk: p1 = ext4 (24 MiB), p2 = FAT16 (24 MiB), each holding the same few files,
 * followed by unpartitioned space with random data. Partition images are kept for cmp.
 */
export async function makeFixtureDisk(dir: string): Promise<FixtureDisk> {
  const files: Record<string, Buffer> = {
    'hello.txt': Buffer.from('hello from diskarc\n'),
    'random.bin': seededBytes(300_000, 7),
  };
  const content = join(dir, 'content');
  await mkdir(content, { recursive: true });
  for (const [name, data] of Object.entries(files)) await writeFile(join(content, name), data);
  await mustSh(
    `
    set -e
    truncate -s 24M ext4.img && mkfs.ext4 -q -F -d content -L DISKARC ext4.img
    truncate -s 24M vfat.img && mkfs.vfat -F 16 -n DISKARC vfat.img >/dev/null
    mcopy -i vfat.img content/hello.txt content/random.bin ::/
    truncate -s 64M disk.img
    printf 'label: dos\\nlabel-id: 0x1234abcd\\n1M,24M,83\\n25M,24M,6\\n' | sfdisk -q disk.img
    dd if=ext4.img of=disk.img bs=1M seek=1 conv=notrunc status=none
    dd if=vfat.img of=disk.img bs=1M seek=25 conv=notrunc status=none
    head -c 4M /dev/urandom | dd of=disk.img bs=1M seek=56 conv=notrunc status=none
  `,
    dir,
  );
  return { disk: join(dir, 'disk.img'), ext4: join(dir, 'ext4.img'), vfat: join(dir, 'vfat.img'), files };
}

/** A sparse image of `size` bytes holding seeded data of `length` bytes at each offset (seeds from `seed`). */
export async function makeSparseImage(path: string, size: number, marks: number[], length: number, seed: number): Promise<string> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    for (const [i, at] of marks.entries()) await fh.write(seededBytes(length, seed + i), 0, length, at);
  } finally {
    await fh.close();
  }
  return path;
}

export async function packArchive(dir: string, inputs: Array<{ path: string; name: string }>): Promise<string> {
  const archive = join(dir, 'archive');
  const c = await diskarc('create', '-a', archive);
  if (c.code !== 0) throw new Error(`create: ${c.stderr}`);
  for (const { path, name } of inputs) {
    const r = await diskarc('pack', '-a', archive, path, '--name', name, '--no-verify');
    if (r.code !== 0) throw new Error(`pack ${path}: ${r.stderr}`);
  }
  return archive;
}

export async function isMounted(mp: string): Promise<boolean> {
  const text = await readFile('/proc/mounts', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[1] === mp);
}

export interface RunningMount {
  child: ChildProcess;
  mp: string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** SIGTERM, then wait for the process to exit; returns its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `diskarc mount --foreground` and waits until the mount is in /proc/mounts. */
export async function startMount(archive: string, mp: string, extra: string[] = []): Promise<RunningMount> {
  await mkdir(mp, { recursive: true });
  const child = spawn(process.execPath, [CLI, 'mount', '-a', archive, mp, '--foreground', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 20_000;
  while (!(await isMounted(mp))) {
    if (gone) throw new Error(`diskarc mount exited before mounting: ${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mount not ready after 20 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Ready is announced after the mount; wait for it so options (readahead) are applied.
  while (!out.includes('mounted') && !gone && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return {
    child,
    mp,
    stderr: () => err,
    exited,
    async stop() {
      if (!gone) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      if (await isMounted(mp)) await run('fusermount3', ['-u', '-z', mp]);
      return code;
    },
  };
}
