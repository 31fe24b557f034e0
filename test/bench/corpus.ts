// The benchmark inputs: the real corpus built by ../shared/bench/make-corpus.sh (found through
// $CORPUS), and a small synthetic corpus with the same file names generated here from this
// machine's /usr, so that `npm run bench` measures something on any machine.
import { createCipheriv } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, lstat, rm, stat, writeFile, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { measure, run } from './measure.js';

export const CORPUS_FILES = ['ext4-v1.img', 'ext4-v2.img', 'ntfs.img', 'sparse.img', 'random.bin'] as const;
export type CorpusFile = (typeof CORPUS_FILES)[number];

/** One set of inputs: the real corpus or the synthetic one. */
export interface CorpusSet {
  label: 'corpus' | 'synthetic';
  dir: string;
  /** Files of CORPUS_FILES present in `dir`, in that order. */
  present: CorpusFile[];
}

export function corpusPath(set: CorpusSet, name: CorpusFile): string | undefined {
  return set.present.includes(name) ? join(set.dir, name) : undefined;
}

const MiB = 1024 * 1024;

// ---- the real corpus ----------------------------------------------------------------------

export interface CorpusLocation {
  dir: string;
  /** How `dir` was chosen, for the report. */
  source: string;
  missing: CorpusFile[];
}

/**
 * $CORPUS if set; otherwise `<repo>/corpus`, or `<repo>/../corpus` (beside ../shared) when only
 * that one exists.
 */
export function locateCorpus(repoDir: string): CorpusLocation {
  const candidates: Array<[string, string]> = process.env.CORPUS
    ? [[resolve(process.env.CORPUS), '$CORPUS']]
    : [
        [join(repoDir, 'corpus'), 'default <repo>/corpus'],
        [resolve(repoDir, '..', 'corpus'), 'default <repo>/../corpus'],
      ];
  const found = candidates.find(([d]) => existsSync(join(d, 'ext4-v1.img'))) ?? candidates[0];
  const missing = CORPUS_FILES.filter((f) => !existsSync(join(found[0], f)));
  return { dir: found[0], source: found[1], missing };
}

export function corpusSet(loc: CorpusLocation): CorpusSet {
  return { label: 'corpus', dir: loc.dir, present: CORPUS_FILES.filter((f) => !loc.missing.includes(f)) };
}

/** Tells the user exactly how to build the missing images. */
export function describeMissingCorpus(loc: CorpusLocation, repoDir: string): string {
  const script = resolve(repoDir, '..', 'shared', 'bench', 'make-corpus.sh');
  return [
    `Benchmark corpus: ${loc.missing.length === CORPUS_FILES.length ? 'not found' : 'incomplete'} in ${loc.dir} ` +
      `(${loc.source}); missing: ${loc.missing.join(', ')}.`,
    `  Only the synthetic corpus will be measured; the issue's targets are defined on the real corpus.`,
    `  Build it (needs root, network access to a Debian mirror, ~10 minutes, ~3 GiB scratch + 8 GiB of images):`,
    `    sudo CORPUS=${loc.dir} bash ${existsSync(script) ? script : '../shared/bench/make-corpus.sh'}`,
    `  then rerun with CORPUS=${loc.dir} npm run bench.`,
  ].join('\n');
}

// ---- the synthetic corpus -----------------------------------------------------------------

// Bump when the generator changes so that a cached synthetic corpus is rebuilt.
const SYNTH_VERSION = 2;
const SYNTH_UUID = '6d1f6c3e-6a0b-4c1e-9d1a-5e1f00000001';
const SYNTH_HASH_SEED = '6d1f6c3e-6a0b-4c1e-9d1a-5e1f00000002';
const FAKE_TIME = '1700000000';

export interface SyntheticOptions {
  /** Size of each ext4 image; other files scale from it (default 256). */
  sizeMiB?: number;
  log?: (line: string) => void;
}

/**
 * Builds (or reuses) the synthetic corpus in `dir`:
 *  ext4-v1.img  an ext4 image (mke2fs -d) of real files copied from /usr plus a 16 MiB database-like file;
 *  ext4-v2.img  v1 changed in place: database blocks rewritten in the image, files deleted,
 *               files rewritten with an insertion, new files added (debugfs, no mount needed);
 *  sparse.img   4× the ext4 size, mostly holes, 1/8 of the ext4 size of data in 24 scattered extents,
 *               plus an allocated run of zeros and one of 0xFF;
 *  random.bin   1/4 of the ext4 size of AES-256-CTR keystream (incompressible, no duplicates);
 *  ntfs.img     a small NTFS volume (mkntfs + ntfs-3g), only when FUSE and ntfs-3g work here.
 */
export async function ensureSyntheticCorpus(dir: string, opts: SyntheticOptions = {}): Promise<CorpusSet> {
  const sizeMiB = opts.sizeMiB ?? 256;
  const log = opts.log ?? console.log;
  const stampPath = join(dir, '.complete');
  const stamp = JSON.stringify({ version: SYNTH_VERSION, sizeMiB });
  const cached = await readFile(stampPath, 'utf8').catch(() => '');
  if (cached.trim() === stamp) {
    const set: CorpusSet = { label: 'synthetic', dir, present: CORPUS_FILES.filter((f) => existsSync(join(dir, f))) };
    log(`Synthetic corpus: reusing ${dir} (${set.present.join(', ')})`);
    return set;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  log(`Synthetic corpus: building in ${dir} (ext4 images of ${sizeMiB} MiB) …`);
  const t0 = performance.now();
  await buildExt4Pair(dir, sizeMiB, log);
  await buildSparse(join(dir, 'sparse.img'), sizeMiB);
  await writeKeystream(join(dir, 'random.bin'), Math.max(8, sizeMiB / 4) * MiB, 'random.bin');
  try {
    await buildNtfs(dir, Math.max(64, sizeMiB / 4));
  } catch (e) {
    log(`  ntfs.img not built (${(e as Error).message.split('\n')[0]}); sections that need it use the real corpus only`);
    await rm(join(dir, 'ntfs.img'), { force: true });
  }
  await rm(join(dir, 'stage'), { recursive: true, force: true });
  await writeFile(stampPath, stamp + '\n');
  const set: CorpusSet = { label: 'synthetic', dir, present: CORPUS_FILES.filter((f) => existsSync(join(dir, f))) };
  log(`Synthetic corpus: built ${set.present.join(', ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return set;
}

/** Deterministic pseudo-random generator (xorshift32) for choices and text. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const WORDS = (
  'disk block slab chunk archive stream restore verify mount serve offset extent hole zero fill read write cache index digest ' +
  'compress host level info warn error debug event payload ts id msg update insert delete commit page row table'
).split(' ');

/** Database-like text: rows of words and numbers, compressible about 3:1 like a real log or DB. */
function textBlock(rand: () => number, length: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < length) {
    const row =
      `${Math.floor(rand() * 1e9)}|host-${Math.floor(rand() * 40)}|` +
      `${Array.from({ length: 4 + Math.floor(rand() * 12) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ')}\n`;
    parts.push(row);
    n += row.length;
  }
  return Buffer.from(parts.join('')).subarray(0, length);
}

/** Regular files under `roots` (sorted walk, no symlinks, plain names), up to `budget` bytes. */
async function pickFiles(
  roots: string[],
  budget: number,
  skip: Set<string>,
  maxFile = 8 * MiB,
): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = [];
  let total = 0;
  const walk = async (d: string): Promise<boolean> => {
    let names: string[];
    try {
      names = (await readdir(d)).sort();
    } catch {
      return false;
    }
    for (const name of names) {
      if (!/^[\w.+-]+$/.test(name)) continue; // keeps debugfs command lines unquoted
      const p = join(d, name);
      const st = await lstat(p).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        if (await walk(p)) return true;
      } else if (st.isFile() && st.size > 0 && st.size <= maxFile && !skip.has(p)) {
        out.push({ path: p, size: st.size });
        total += st.size;
        if (total >= budget) return true;
      }
    }
    return false;
  };
  for (const r of roots) if (await walk(r)) break;
  return out;
}

async function buildExt4Pair(dir: string, sizeMiB: number, log: (line: string) => void): Promise<void> {
  const stage = join(dir, 'stage');
  const root = join(stage, 'root');
  const budget = Math.floor(sizeMiB * MiB * 0.55);
  const libRoots = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'];
  const shareRoots = ['/usr/share/doc', '/usr/share/locale', '/usr/share'];
  const picked = [...(await pickFiles(libRoots, budget * 0.6, new Set())), ...(await pickFiles(shareRoots, budget * 0.4, new Set()))];
  const used = new Set(picked.map((f) => f.path));
  for (const f of picked) {
    const dest = join(root, f.path);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(f.path, dest);
  }
  // A database-like file whose blocks v2 rewrites in place, as SQLite does.
  const dbSize = Math.max(1, Math.floor(sizeMiB / 16)) * MiB;
  await mkdir(join(root, 'srv'), { recursive: true });
  await writeFile(join(root, 'srv', 'events.db'), textBlock(prng(1), dbSize));

  const v1 = join(dir, 'ext4-v1.img');
  await run(
    'mke2fs',
    [
      '-q',
      '-F',
      '-t',
      'ext4',
      '-b',
      '4096',
      '-L',
      'synth-root',
      '-U',
      SYNTH_UUID,
      '-E',
      `hash_seed=${SYNTH_HASH_SEED},root_owner=0:0`,
      '-d',
      root,
      v1,
      `${sizeMiB}M`,
    ],
    {
      env: { ...process.env, E2FSPROGS_FAKE_TIME: FAKE_TIME },
    },
  );

  // v2: a copy of v1 changed in place.
  const v2 = join(dir, 'ext4-v2.img');
  await run('cp', ['--sparse=always', v1, v2]);
  const rand = prng(2);
  // (a) rewrite ~3% of the database's blocks directly in the image (its block numbers from debugfs).
  const blocksOut = await run('debugfs', ['-R', 'blocks /srv/events.db', v2]);
  const blocks = blocksOut
    .trim()
    .split(/\s+/)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  if (blocks.length < dbSize / 4096) throw new Error(`debugfs listed ${blocks.length} blocks for /srv/events.db`);
  const fh = await open(v2, 'r+');
  try {
    for (const b of blocks) if (rand() < 0.03) await fh.write(textBlock(rand, 4096), 0, 4096, b * 4096);
  } finally {
    await fh.close();
  }
  // (b) through debugfs: delete every 25th file, rewrite every 40th with 1 KiB inserted in the
  // middle (a content shift that fixed-size chunking would not survive), add new files.
  const mods = join(stage, 'mods');
  await mkdir(mods, { recursive: true });
  const cmds: string[] = [];
  for (let i = 0; i < picked.length; i++) {
    const f = picked[i];
    if (i % 25 === 12) {
      cmds.push(`rm ${f.path}`);
    } else if (i % 40 === 7 && f.size >= 4096) {
      const data = await readFile(f.path);
      const mid = Math.floor(data.length / 2);
      const local = join(mods, `m${i}`);
      await writeFile(local, Buffer.concat([data.subarray(0, mid), textBlock(rand, 1024), data.subarray(mid)]));
      cmds.push(`rm ${f.path}`, `cd ${dirname(f.path)}`, `write ${local} ${f.path.slice(f.path.lastIndexOf('/') + 1)}`, 'cd /');
    }
  }
  const added = await pickFiles(['/usr/share', '/usr/lib'], sizeMiB * MiB * 0.05, used);
  cmds.push('mkdir /srv/new', 'cd /srv/new');
  added.forEach((f, i) => {
    cmds.push(`write ${f.path} n${i}-${f.path.slice(f.path.lastIndexOf('/') + 1)}`);
  });
  const cmdFile = join(stage, 'debugfs-v2.cmds');
  await writeFile(cmdFile, cmds.join('\n') + '\n');
  await run('debugfs', ['-w', '-f', cmdFile, v2], { env: { ...process.env, E2FSPROGS_FAKE_TIME: String(Number(FAKE_TIME) + 86400) } });
  const fsck = await measure('e2fsck', ['-fn', v2], { check: false });
  if (fsck.exitCode !== 0)
    log(`  warning: e2fsck -fn ext4-v2.img reported problems (exit ${fsck.exitCode}); the image is still a valid benchmark input`);
}

/** Writes `length` bytes of AES-256-CTR keystream under a fixed key (reproducible, incompressible). */
export async function writeKeystream(path: string, length: number, keyLabel: string): Promise<void> {
  const key = Buffer.alloc(32);
  key.write(keyLabel);
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zero = Buffer.alloc(4 * MiB);
  const fh = await open(path + '.tmp', 'w');
  try {
    for (let done = 0; done < length; done += zero.length) {
      const n = Math.min(zero.length, length - done);
      await fh.write(cipher.update(zero.subarray(0, n)));
    }
  } finally {
    await fh.close();
  }
  await rename(path + '.tmp', path);
}

/** A file 4× the ext4 size, holes except 24 scattered data extents, a zero run and a 0xFF run. */
async function buildSparse(path: string, sizeMiB: number): Promise<void> {
  const size = 4 * sizeMiB * MiB;
  const dataBudget = Math.floor((sizeMiB * MiB) / 8);
  const sources = await pickFiles(['/usr/lib/x86_64-linux-gnu', '/usr/lib'], dataBudget + 4 * MiB, new Set());
  const data = Buffer.concat(await Promise.all(sources.map((s) => readFile(s.path)))).subarray(0, dataBudget);
  const slots = 32;
  const slot = size / slots;
  const dataSlots = Array.from({ length: slots }, (_, i) => i)
    .filter((i) => i !== 9 && i !== 21)
    .slice(0, 24);
  const weights = dataSlots.map((i) => 1 + ((i * 37) % 5));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const fh = await open(path + '.tmp', 'w');
  try {
    await fh.truncate(size);
    let used = 0;
    for (let k = 0; k < dataSlots.length; k++) {
      const i = dataSlots[k];
      // Uneven lengths with odd byte counts, at 4 KiB-aligned but scattered offsets in each slot.
      const len = k === dataSlots.length - 1 ? data.length - used : Math.floor((weights[k] * data.length) / wsum) - ((i * 4099) % 4096);
      const room = Math.max(4096, slot - len - 4096);
      const off = i * slot + Math.floor(((((i * 7919) % 1024) * 4096) % room) / 4096) * 4096;
      if (off + len > (i + 1) * slot) throw new Error('sparse.img layout overflow');
      await fh.write(data, used, len, off);
      used += len;
    }
    await fh.write(Buffer.alloc(Math.max(MiB, (sizeMiB * MiB) / 32)), 0, undefined, 9 * slot + 5 * 4096);
    await fh.write(Buffer.alloc(Math.max(MiB, (sizeMiB * MiB) / 128), 0xff), 0, undefined, 21 * slot + 9 * 4096);
  } finally {
    await fh.close();
  }
  await rename(path + '.tmp', path);
}

/** A small NTFS volume with real files, populated through ntfs-3g (FUSE), then unmounted. */
async function buildNtfs(dir: string, sizeMiB: number): Promise<void> {
  const out = join(dir, 'ntfs.img');
  const mnt = join(dir, 'stage', 'mnt-ntfs');
  await mkdir(mnt, { recursive: true });
  const tmp = out + '.tmp';
  const fh = await open(tmp, 'w');
  await fh.truncate(sizeMiB * MiB);
  await fh.close();
  await run('mkntfs', ['-q', '-F', '-Q', '-T', '-L', 'SYNTH', '-c', '4096', tmp]);
  const daemon = spawn('ntfs-3g', ['-o', 'no_detach', tmp, mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  daemon.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number>((res) => daemon.on('close', (c) => res(c ?? -1)));
  try {
    let mounted = false;
    for (let i = 0; i < 100 && !mounted; i++) {
      await new Promise((r) => setTimeout(r, 100));
      mounted = await isMountpoint(mnt);
      if (daemon.exitCode !== null) throw new Error(`ntfs-3g exited: ${err.trim()}`);
    }
    if (!mounted) throw new Error('ntfs-3g did not mount within 10 s');
    const files = await pickFiles(
      ['/usr/share/doc', '/usr/share/locale', '/usr/lib/x86_64-linux-gnu'],
      sizeMiB * MiB * 0.4,
      new Set(),
      4 * MiB,
    );
    // A directory deleted afterwards leaves free-but-dirty clusters, as in the real corpus.
    await mkdir(join(mnt, 'Temp', 'setup-cache'), { recursive: true });
    for (const f of files.slice(0, 40)) await copyFile(f.path, join(mnt, 'Temp', 'setup-cache', f.path.replace(/\//g, '_')));
    for (const f of files) {
      const dest = join(mnt, 'Files', f.path);
      await mkdir(dirname(dest), { recursive: true });
      await copyFile(f.path, dest);
    }
    await rm(join(mnt, 'Temp', 'setup-cache'), { recursive: true });
  } finally {
    await run('umount', [mnt], { check: false }).catch(() => undefined);
    const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-2), 30_000))]);
    if (code === -2) daemon.kill('SIGKILL');
  }
  if ((await stat(tmp)).size !== sizeMiB * MiB) throw new Error('ntfs.img has the wrong size');
  await rename(tmp, out);
}

async function isMountpoint(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[1] === path);
}
