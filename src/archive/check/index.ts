// `check`: reads an archive's files — never writes — and says what is damaged and which streams
// (and byte ranges of them) the damage reaches. Fast by default (headers, indexes, hash lists, maps,
// metadata); `deep` also decodes every data slab, every chunk's SHA-256 and each stream's digest.
import { readdir, readFile, stat } from 'node:fs/promises';
import { classifySystemError, DiskarcError } from '../../errors.js';
import { CONFIG_FILE, validateConfig, type ArchiveConfig } from '../config.js';
import { checkDedupSnapshot } from './dedup-snapshot.js';
import { CheckContext, parseWrittenJson } from './context.js';
import type { CheckReport, Problem, StreamReport } from './report.js';
import { checkSlabFiles } from './slab-files.js';
import { checkStream, type StreamCheck } from './streams.js';

export type { CheckReport, Problem, ProblemKind, StreamReport, Note } from './report.js';

const STREAM_ID_RE = /^[0-9a-f]{16}$/;

export interface CheckOptions {
  deep?: boolean;
  /** Called after each stream is checked. */
  onProgress?: (streamsDone: number, streams: number) => void;
}

export async function checkArchive(dir: string, opts: CheckOptions = {}): Promise<CheckReport> {
  const started = performance.now();
  await mustLookLikeArchive(dir);
  const ctx = new CheckContext(dir, opts.deep ?? false);

  const configProblem = await checkConfig(ctx);
  await noteLock(ctx);
  const slabs = await checkSlabFiles(ctx);
  try {
    const referenced = new Set<number>();
    const names = await readdir(ctx.path('streams')).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw classifySystemError(e, `listing ${ctx.path('streams')}`);
    });
    if (names.length === 0 && !(await exists(ctx.path('streams')))) ctx.log.add({ file: 'streams', offset: 0, length: 0, kind: 'missing-file', message: 'the streams/ directory is missing' });
    for (const n of names) if (n.startsWith('.tmp-')) ctx.notes.push({ file: `streams/${n}`, message: 'a stream a killed pack was writing (never listed; the next pack removes it)' });
    // meta.json is the commit point (format.md §7): a stream folder without it is a pack that did
    // not finish — never listed by readers, removed by the next pack — not a damaged stream.
    const ids: string[] = [];
    for (const n of names.filter((n) => STREAM_ID_RE.test(n)).sort()) {
      if (await exists(ctx.path(`streams/${n}/meta.json`))) ids.push(n);
      else ctx.notes.push({ file: `streams/${n}`, message: 'an uncommitted stream (a pack that did not finish: never listed; the next pack removes it)' });
    }
    const checked: StreamCheck[] = [];
    for (const id of ids) {
      checked.push(await checkStream(ctx, id, slabs, referenced));
      opts.onProgress?.(checked.length, ids.length);
    }
    await checkDedupSnapshot(ctx, slabs);

    if (configProblem) for (const s of checked) ctx.log.affect(configProblem, s.id, 0, s.size ?? 0);
    const perStream = ctx.log.finish(new Map(checked.map((s) => [s.id, s.name])));
    const streams: StreamReport[] = checked.map((s) => ({
      id: s.id,
      ...(s.name !== undefined ? { name: s.name } : {}),
      ...(s.size !== undefined ? { size: s.size } : {}),
      intact: !s.damaged && !configProblem,
      damagedRanges: perStream.get(s.id) ?? [],
    }));
    const debris = [...slabs.unindexed].filter((id) => !referenced.has(id));
    if (debris.length > 0) ctx.notes.push({ file: 'data', message: `${debris.length} complete slabs after the newest file's offsets index (a pack killed before indexing them; the next pack cuts them)` });
    let unreferenced = 0;
    let unreferencedBytes = 0;
    for (let id = 0; id < slabs.total; id++) {
      if (referenced.has(id) || slabs.damaged.has(id)) continue;
      unreferenced++;
      unreferencedBytes += slabs.storedBytes.get(id) ?? 0;
    }
    if (unreferenced > 0) ctx.notes.push({ file: 'data', message: `${unreferenced} slabs (${unreferencedBytes} bytes) are referenced by no stream (left by packs that did not commit; later packs deduplicate against them)` });
    return {
      archive: dir,
      deep: ctx.deep,
      clean: ctx.log.problems.length === 0,
      problems: ctx.log.problems,
      streams,
      notes: ctx.notes,
      slabs: { total: slabs.total, unreferenced, unreferencedBytes },
      bytesRead: ctx.bytesRead,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await slabs.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** A directory with neither a config nor slab files is not an archive: check cannot run (exit 3). */
async function mustLookLikeArchive(dir: string): Promise<void> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno !== 'ENOENT' && errno !== 'ENOTDIR') throw classifySystemError(e, `opening the archive ${dir}`);
  }
  if (!isDir) throw new DiskarcError('ENOARCHIVE', `archive ${dir} does not exist`, { archive: dir });
  const parts = await Promise.all([CONFIG_FILE, 'data', 'streams'].map((p) => exists(`${dir}/${p}`)));
  if (!parts.some(Boolean)) throw new DiskarcError('ENOARCHIVE', `${dir} is not a diskarc archive (no ${CONFIG_FILE}, data/ or streams/)`, { archive: dir });
}

/** diskarc.json: write-once, so it must be exactly as `create` wrote it and valid. Readers refuse the archive otherwise. */
async function checkConfig(ctx: CheckContext): Promise<Problem | undefined> {
  const buf = await ctx.readWhole(CONFIG_FILE);
  const refuse = 'readers refuse to open the archive';
  if (buf === undefined) return ctx.log.add({ file: CONFIG_FILE, offset: 0, length: 0, kind: 'missing-file', message: `${CONFIG_FILE} is missing: ${refuse}` });
  const parsed = parseWrittenJson(buf);
  if (!('value' in parsed)) return ctx.log.add({ file: CONFIG_FILE, offset: 0, length: buf.length, kind: 'bad-config', message: `${CONFIG_FILE} ${parsed.why}: ${refuse}` });
  try {
    validateConfig(parsed.value as unknown as ArchiveConfig, CONFIG_FILE);
    if (!Number.isFinite(Date.parse(String(parsed.value.createdAt)))) throw new DiskarcError('ENOARCHIVE', `${CONFIG_FILE}: createdAt is not a date`);
  } catch (e) {
    if (!(e instanceof DiskarcError)) throw e;
    return ctx.log.add({ file: CONFIG_FILE, offset: 0, length: buf.length, kind: 'bad-config', message: `${e.message}: ${refuse}` });
  }
  return undefined;
}

/** A leftover lock is worth a note: a live writer means the tail of the newest slab file may be changing. */
async function noteLock(ctx: CheckContext): Promise<void> {
  const text = await readFile(ctx.path('lock'), 'utf8').catch(() => undefined);
  if (text === undefined) return;
  if (!/^\d+$/.test(text.trim())) {
    ctx.notes.push({ file: 'lock', message: `a writer lock is present (${JSON.stringify(text.trim().slice(0, 200))}): if a writer is running, slabs it is appending may show as a torn tail` });
    return;
  }
  const pid = Number(text.trim());
  let alive = false;
  try {
    if (pid > 0) process.kill(pid, 0), (alive = true);
  } catch {
    alive = false;
  }
  ctx.notes.push({ file: 'lock', message: alive ? `a writer (pid ${pid}) is running: slabs it is appending may show as a torn tail` : `a stale lock (pid ${pid || '?'} is not running); the next pack takes it over` });
}
