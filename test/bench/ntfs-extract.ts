// Issue 5's benchmark: extract a whole NTFS tree out of an archived disk image with
// `diskarc extract -a DIR -s STREAM / DEST`, beside the ways a user would do it without
// diskarc — The Sleuth Kit's icat once per file (driven from the fls listing) and an
// ntfs-3g read-only mount of the raw image + `cp -a` — plus `diskarc extract --image` on
// the raw image, all in one run on the same input, with the outputs cross-checked.
// Input: ntfs.img of each corpus set (real corpus from ../shared/bench/make-corpus.sh via
// $CORPUS, and the synthetic one), else the largest NTFS test fixture (c4k.img).
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchContext } from './run.js';
import { corpusPath } from './corpus.js';
import { fmtBytes, fmtRate, fmtRatio, fmtSeconds, measure, mibPerSecond, printTable, run, type Measurement } from './measure.js';
import { parseFls, type FlsLine } from '../fixtures/ntfs/oracle-gen.js';

interface Input {
  label: string;
  image: string;
}

/** What the fls listing says should come out: regular files (unnamed $DATA) and directories. */
interface Listing {
  files: Array<{ path: string; spec: string; size: number }>;
  dirs: string[];
  bytes: number;
}

interface Row {
  tool: string;
  m?: Measurement;
  /** Extra time that belongs to the method (fls listing for icat). */
  extraSeconds?: number;
  extraCpuSeconds?: number;
  error?: string;
  /** A run that finished but reported failures (e.g. diskarc's EFS for unreadable files). */
  note?: string;
  mismatches?: number;
  /** Listed files that came out as symlinks (Interix links). */
  links?: number;
}

const SYMLINK = 'symlink';

export async function runNtfsExtractBench(ctx: BenchContext): Promise<void> {
  const inputs: Input[] = [];
  for (const set of ctx.corpora) {
    const img = corpusPath(set, 'ntfs.img');
    if (img) inputs.push({ label: `${set.label} ntfs.img`, image: img });
  }
  if (inputs.length === 0) {
    const { ntfsFixtures } = await import('../fixtures/ntfs/fixtures.js');
    const fx = await ntfsFixtures();
    const c4k = fx.images.find((i) => i.name === 'c4k');
    if (!c4k) throw new Error('no ntfs.img in any corpus and no c4k fixture');
    inputs.push({ label: 'fixture c4k.img', image: c4k.image });
  }
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${await toolVersions()}`);
  for (const input of inputs) await benchImage(ctx, input);
}

async function toolVersions(): Promise<string> {
  const tsk = (await run('fls', ['-V']).catch(() => '?')).trim();
  const n3g = (await run('ntfs-3g', ['--version'], { check: false }).catch(() => '?')).trim().split('\n')[0];
  return `${tsk}; ${n3g || 'ntfs-3g'}`;
}

const SYSTEM = /^\$/;

/** Regular files and directories of `fls -r -p -l` (allocated, no system files, no streams). */
export function listingFromFls(lines: FlsLine[]): Listing {
  const live = lines.filter((l) => !l.deleted && !SYSTEM.test(l.path.split('/')[0]!) && !l.path.includes('/.:'));
  const pathsByInode = new Map<number, string[]>();
  for (const l of live) pathsByInode.set(l.inode, [...(pathsByInode.get(l.inode) ?? []), l.path]);
  const files: Listing['files'] = [];
  const dirs: string[] = [];
  for (const l of live) {
    const isStream = (pathsByInode.get(l.inode) ?? []).some((p) => p !== l.path && l.path.startsWith(p + ':'));
    if (isStream) continue;
    if (l.metaType === 'd') dirs.push(l.path);
    else if (l.metaType === 'r') {
      const spec = l.attrType === undefined ? String(l.inode) : `${l.inode}-${l.attrType}-${l.attrId}`;
      files.push({ path: l.path, spec, size: l.size });
    }
  }
  return { files, dirs, bytes: files.reduce((a, f) => a + f.size, 0) };
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function benchImage(ctx: BenchContext, input: Input): Promise<void> {
  const work = join(ctx.workDir, input.label.replace(/\W+/g, '-'));
  await mkdir(work, { recursive: true });
  const out = (name: string) => join(work, `out-${name}`);
  const load0 = loadavg()[0]!;

  // The listing that drives icat (timed: it is part of that method).
  const flsRun = await measure('fls', ['-r', '-p', '-l', '-z', 'UTC', input.image]);
  const listing = listingFromFls(parseFls(flsRun.stdout));
  console.log(`\n${input.label}: ${input.image}`);
  console.log(
    `  ${listing.files.length} files, ${listing.dirs.length} directories, ${fmtBytes(listing.bytes)} of file data (fls ` +
      `listing: ${fmtSeconds(flsRun.wallSeconds)} s)`,
  );

  // Archive the image (not part of the comparison, reported for context).
  const archive = join(work, 'archive');
  await run('node', [ctx.diskarc, 'create', '-a', archive]);
  const pack = await measure('node', [ctx.diskarc, 'pack', '-a', archive, input.image, '--name', 'ntfs', '--no-verify'], {
    timeoutSeconds: 3600,
  });
  console.log(`  packed into ${archive} in ${fmtSeconds(pack.wallSeconds)} s`);

  const rows: Row[] = [];
  const attempt = async (tool: string, fn: () => Promise<Measurement>, extra?: Measurement) => {
    const row: Row = {
      tool,
      extraSeconds: extra?.wallSeconds,
      extraCpuSeconds: extra ? extra.userSeconds + extra.systemSeconds : undefined,
    };
    try {
      row.m = await fn();
      if (row.m.exitCode !== 0) {
        const lines = row.m.stderr.trim().split('\n');
        row.note = `exit ${row.m.exitCode}, ${lines.length} stderr line(s), last: ${lines.at(-1)}`;
      }
    } catch (e) {
      row.error = (e as Error).message.split('\n').slice(0, 3).join(' ');
    }
    rows.push(row);
    return row;
  };

  const extractAvailable = (await run('node', [ctx.diskarc, 'extract', '--help'], { check: false })).includes('extract');
  if (extractAvailable) {
    await attempt('diskarc extract -a -s (archived)', () =>
      measure('node', [ctx.diskarc, 'extract', '-a', archive, '-s', 'ntfs', '/', out('diskarc')], { timeoutSeconds: 3600, check: false }),
    );
    await attempt('diskarc extract --image (raw)', () =>
      measure('node', [ctx.diskarc, 'extract', '--image', input.image, '/', out('diskarc-raw')], { timeoutSeconds: 3600, check: false }),
    );
  } else {
    rows.push({ tool: 'diskarc extract', error: 'not available (no extract command in this build)' });
  }

  // icat per file, as a shell loop generated from the fls listing.
  const script = [
    'set -e',
    `mkdir -p ${sh(out('icat'))}`,
    `cd ${sh(out('icat'))}`,
    ...listing.dirs.map((d) => `mkdir -p -- ${sh(d)}`),
    ...listing.files.map((f) => `icat ${sh(input.image)} ${f.spec} > ${sh(f.path)}`),
  ].join('\n');
  await writeFile(join(work, 'icat.sh'), script + '\n');
  await attempt('icat per file (+ fls)', () => measure('bash', [join(work, 'icat.sh')], { timeoutSeconds: 3600 }), flsRun);

  // ntfs-3g read-only mount of the raw image + cp -a.
  const mnt = join(work, 'mnt');
  await mkdir(mnt, { recursive: true });
  // ntfs-3g stays in the foreground (no_detach) as a child of this script, so that its CPU
  // time is counted with cp's (a daemonized ntfs-3g would escape the measurement).
  const n3gScript = [
    `ntfs-3g -o ro,no_detach ${sh(input.image)} ${sh(mnt)} & pid=$!`,
    `for i in $(seq 1 200); do mountpoint -q ${sh(mnt)} && break; sleep 0.05; done`,
    `cp -a ${sh(mnt)}/. ${sh(out('ntfs-3g'))}; rc=$?`,
    `umount ${sh(mnt)}`,
    'wait $pid',
    'exit $rc',
  ].join('\n');
  await mkdir(out('ntfs-3g'), { recursive: true });
  await writeFile(join(work, 'ntfs-3g.sh'), n3gScript + '\n');
  // cp exits 1 when ntfs-3g cannot stat an entry (drive-letter symlinks, WOF files): keep the time.
  await attempt('ntfs-3g -o ro + cp -a', () => measure('bash', [join(work, 'ntfs-3g.sh')], { timeoutSeconds: 3600, check: false }));

  // Cross-check every listed file in each output against icat's (untimed).
  const reference = await hashTree(out('icat'), listing);
  for (const row of rows) {
    if (!row.m) continue;
    const dir = row.tool.startsWith('diskarc extract -a')
      ? out('diskarc')
      : row.tool.startsWith('diskarc extract --image')
        ? out('diskarc-raw')
        : row.tool.startsWith('ntfs-3g')
          ? out('ntfs-3g')
          : undefined;
    if (!dir) continue;
    const got = await hashTree(dir, listing);
    // Interix symlinks (ntfs-3g's ln -s) are files to icat and links to ntfs-3g and diskarc.
    row.links = listing.files.filter((f) => got.get(f.path) === SYMLINK).length;
    row.mismatches = listing.files.filter((f) => got.get(f.path) !== SYMLINK && got.get(f.path) !== reference.get(f.path)).length;
  }

  const total = (r: Row) => (r.m ? r.m.wallSeconds + (r.extraSeconds ?? 0) : undefined);
  const cpu = (r: Row) => (r.m ? r.m.userSeconds + r.m.systemSeconds + (r.extraCpuSeconds ?? 0) : undefined);
  const archived = rows.find((r) => r.tool.startsWith('diskarc extract -a'));
  printTable(
    `NTFS extract of the whole tree — ${input.label} (${listing.files.length} files, ${fmtBytes(listing.bytes)}; load ` +
      `${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)})`,
    [
      'method',
      'wall s',
      'cpu s',
      'MiB/s',
      'max RSS',
      'wall / diskarc (archived)',
      'cpu / diskarc (archived)',
      'files differing from icat',
      'as symlinks',
    ],
    rows.map((r) => [
      r.tool,
      r.error ? 'failed' : fmtSeconds(total(r)),
      r.m ? fmtSeconds(cpu(r)) : '–',
      r.m ? fmtRate(mibPerSecond(listing.bytes, total(r)!)) : '–',
      r.m ? fmtBytes(r.m.maxRssBytes) : '–',
      fmtRatio(total(r), archived ? total(archived) : undefined),
      fmtRatio(cpu(r), archived ? cpu(archived) : undefined),
      r.mismatches === undefined ? (r.tool.startsWith('icat') && r.m ? '(reference)' : '–') : String(r.mismatches),
      r.links === undefined ? '–' : String(r.links),
    ]),
  );
  console.log('  caches are warm for every method (the image and the archive fit in RAM); icat includes the fls listing;');
  console.log(
    `  cpu s = user + system of the command and its children (ntfs-3g's daemon included). With a load of ${load0.toFixed(1)} ` +
      `on ${cpus().length} cores, wall times stretch; cpu ratios are the steadier comparison.`,
  );
  for (const r of rows) {
    if (r.error) console.log(`  ${r.tool}: FAILED: ${r.error}`);
    if (r.note) console.log(`  ${r.tool}: ${r.note}`);
    if (r.m && r.m.exitCode !== 0 && r.tool.startsWith('diskarc')) {
      for (const line of r.m.stderr.trim().split('\n').slice(0, 8)) console.log(`    ${line}`);
    }
  }
  const icat = rows.find((r) => r.tool.startsWith('icat'));
  const n3g = rows.find((r) => r.tool.startsWith('ntfs-3g'));
  if (archived?.m) {
    console.log(
      `  diskarc (archived) vs icat per file: ${fmtRatio(total(icat!), total(archived))} wall, ` +
        `${fmtRatio(cpu(icat!), cpu(archived))} cpu; vs ntfs-3g + cp -a: ${fmtRatio(total(n3g!), total(archived))} wall, ` +
        `${fmtRatio(cpu(n3g!), cpu(archived))} cpu (> 1× = diskarc is faster)`,
    );
  }
}

/** SHA-256 of each listed file under `dir` (missing files map to undefined). */
async function hashTree(dir: string, listing: Listing): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const f of listing.files) {
    const p = join(dir, f.path);
    const st = await lstat(p).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      out.set(f.path, SYMLINK);
      continue;
    }
    if (!st?.isFile()) {
      out.set(f.path, undefined);
      continue;
    }
    const h = createHash('sha256');
    for await (const b of createReadStream(p) as AsyncIterable<Buffer>) h.update(b);
    out.set(f.path, h.digest('hex'));
  }
  return out;
}

// Standalone: node dist/test/bench/ntfs-extract.js [IMAGE]  (default: the corpus / fixture)
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const repo = join(import.meta.dirname, '..', '..', '..');
  const image = process.argv[2];
  const workDir = join(process.env.BENCH_WORK ?? '/tmp/diskarc-bench', 'ntfs-extract');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const corpora = image
    ? [{ label: 'corpus' as const, dir: join(image, '..'), present: ['ntfs.img' as const] }]
    : process.env.CORPUS && existsSync(join(process.env.CORPUS, 'ntfs.img'))
      ? [{ label: 'corpus' as const, dir: process.env.CORPUS, present: ['ntfs.img' as const] }]
      : [];
  if (image && basename(image) !== 'ntfs.img') {
    // corpusPath() looks up ntfs.img by name: link the image under that name.
    await run('ln', ['-s', image, join(workDir, 'ntfs.img')]);
    corpora[0]!.dir = workDir;
  }
  try {
    await runNtfsExtractBench({ corpusDir: corpora[0]?.dir ?? '', workDir, diskarc: join(repo, 'dist', 'src', 'cli', 'main.js'), corpora });
  } finally {
    if (!process.env.KEEP_WORK) await rm(workDir, { recursive: true, force: true });
  }
}
