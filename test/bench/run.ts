// `npm run bench`: measures diskarc against the peers each issue names, side by side, on the
// real corpus (../shared/bench/make-corpus.sh, found via $CORPUS) and on a synthetic corpus
// generated here. Each section is a named function that prints its own table; one section
// failing is reported and the others still run.
//
//   npm run bench                         all sections
//   npm run bench -- --only archive,nbd   some sections
//   npm run bench -- --list               section names
//   npm run bench -- --synthetic-only     skip the real corpus even when present
//   npm run bench -- --keep-work          keep scratch archives/repositories for inspection
//   npm run bench -- --no-snapshot        run dist/ in place (default: a copy, see snapshotBuild)
// Environment: CORPUS (real corpus dir), BENCH_WORK (scratch dir, default $TMPDIR/diskarc-bench),
// BENCH_SYNTH_MIB (synthetic ext4 image size, default 256).
import { existsSync } from 'node:fs';
import { cp, mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpusSet, describeMissingCorpus, ensureSyntheticCorpus, locateCorpus, type CorpusSet } from './corpus.js';

/** What every section receives. */
export interface BenchContext {
  /**
   * Directory of the real corpus (ext4-v1.img, ext4-v2.img, ntfs.img, sparse.img, random.bin).
   * Files may be missing: `corpora` lists what is present.
   */
  corpusDir: string;
  /** A scratch directory of this section's own, emptied afterwards (unless --keep-work). */
  workDir: string;
  /**
   * Path of the built CLI's main.js — a snapshot of dist/ taken at start (see snapshotBuild):
   * run it as `node <diskarc> …`.
   */
  diskarc: string;
  /** The input sets to measure, synthetic first: same file names in each (see corpus.ts). */
  corpora: CorpusSet[];
}

export interface BenchSection {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<void>;
}

// Sections load lazily so that one that fails to load is reported like one that fails to run.
export const sections: BenchSection[] = [
  {
    name: 'archive',
    description: 'pack / unpack vs borg, restic, zstd (issue 3)',
    run: async (ctx) => (await import('./archive.js')).runArchiveBench(ctx),
  },
  {
    name: 'ntfs-extract',
    description: 'extract a whole NTFS tree vs icat per file and ntfs-3g + cp -a (issue 5)',
    run: async (ctx) => (await import('./ntfs-extract.js')).runNtfsExtractBench(ctx),
  },
  {
    name: 'nbd',
    description: 'NBD serve: nbdcopy sequential and fio 4K QD16 vs nbdkit file and qemu-nbd qcow2; RSS with 16 clients (issue 4)',
    run: async (ctx) => (await import('./nbd.js')).runNbdBench(ctx),
  },
  {
    name: 'mount',
    description: 'FUSE mount reads vs NBD, ewfmount, squashfuse; NTFS file copy vs ntfs-3g (issue 6)',
    run: async (ctx) => (await import('./mount.js')).runMountBench(ctx),
  },
  {
    name: 'proxy',
    description: 'range proxy (IMDPROXY): sequential 1 MiB and random 4K ×1/×8 vs diskarc NBD, nbdkit file, qemu-nbd qcow2 (issue 17)',
    run: async (ctx) => (await import('./proxy.js')).runProxyBench(ctx),
  },
  {
    name: 'webdav',
    description:
      'WebDAV: full GET vs rclone serve webdav and nginx dav-ext, tail vs head range, PROPFIND and rclone copy vs rclone (issue 15)',
    run: async (ctx) => (await import('./webdav.js')).runWebDavBench(ctx),
  },
];

const repoDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The build this runner belongs to: dist/, or another tsc --outDir (e.g. .dist-nbd) run the same way. */
const buildDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      list: { type: 'boolean' },
      'synthetic-only': { type: 'boolean' },
      'keep-work': { type: 'boolean' },
      'no-snapshot': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench -- [--only NAME[,NAME…]] [--list] [--synthetic-only] [--keep-work] [--no-snapshot]');
    console.log('env: CORPUS=dir (real corpus), BENCH_WORK=dir (scratch), BENCH_SYNTH_MIB=n (synthetic size)');
    return 0;
  }
  if (values.list) {
    for (const s of sections) console.log(`${s.name.padEnd(14)} ${s.description}`);
    return 0;
  }
  const wanted = values.only
    ? values.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : sections.map((s) => s.name);
  const unknown = wanted.filter((w) => !sections.some((s) => s.name === w));
  if (unknown.length) {
    console.error(`unknown section(s): ${unknown.join(', ')}; known: ${sections.map((s) => s.name).join(', ')}`);
    return 2;
  }

  if (!existsSync(join(buildDir, 'src', 'cli', 'main.js'))) {
    console.error(`${join(buildDir, 'src', 'cli', 'main.js')} is missing: build first (npx tsc -p .)`);
    return 2;
  }
  const workRoot = resolve(process.env.BENCH_WORK ?? join(tmpdir(), 'diskarc-bench'));
  await mkdir(workRoot, { recursive: true });
  const diskarc = values['no-snapshot'] ? join(buildDir, 'src', 'cli', 'main.js') : await snapshotBuild(join(workRoot, 'build'));
  console.log(`diskarc benchmark — ${new Date().toISOString()}`);
  console.log(`work dir: ${workRoot}`);

  const loc = locateCorpus(repoDir);
  const corpora: CorpusSet[] = [];
  const synthMiB = Number(process.env.BENCH_SYNTH_MIB ?? 256);
  corpora.push(await ensureSyntheticCorpus(join(workRoot, 'synthetic'), { sizeMiB: synthMiB }));
  if (values['synthetic-only']) {
    console.log(
      `Real corpus: skipped (--synthetic-only); ` +
        `${loc.missing.length ? 'missing files: ' + loc.missing.join(', ') : 'present in ' + loc.dir}`,
    );
  } else if (loc.missing.length) {
    console.log(describeMissingCorpus(loc, repoDir));
    const partial = corpusSet(loc);
    if (partial.present.length) corpora.push(partial);
  } else {
    console.log(`Real corpus: ${loc.dir} (${loc.source})`);
    corpora.push(corpusSet(loc));
  }

  const failed: string[] = [];
  for (const section of sections.filter((s) => wanted.includes(s.name))) {
    const workDir = join(workRoot, section.name);
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    console.log(`\n=== ${section.name}: ${section.description}`);
    const t0 = performance.now();
    try {
      await section.run({ corpusDir: loc.dir, workDir, diskarc, corpora });
      console.log(`=== ${section.name}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    } catch (e) {
      failed.push(section.name);
      console.log(`=== ${section.name}: FAILED after ${((performance.now() - t0) / 1000).toFixed(0)} s: ${(e as Error).stack ?? e}`);
    } finally {
      if (!values['keep-work']) await rm(workDir, { recursive: true, force: true });
    }
  }
  if (failed.length) {
    console.log(`\n${failed.length} section(s) failed: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

/**
 * Copies the built CLI (dist/, the native addon, package.json; node_modules linked) so that a
 * rebuild of the working tree during a long run cannot change the code being measured halfway.
 */
async function snapshotBuild(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(join(repoDir, 'package.json'), join(dir, 'package.json'));
  await cp(buildDir, join(dir, 'dist'), { recursive: true });
  await cp(join(repoDir, 'native', 'build', 'Release'), join(dir, 'native', 'build', 'Release'), { recursive: true });
  await symlink(join(repoDir, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'dist', 'src', 'cli', 'main.js');
}

process.exitCode = await main();
