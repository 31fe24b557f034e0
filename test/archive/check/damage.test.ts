// Seeded damage trials for `diskarc check`: every kind of archive file × every kind of damage
// (1 byte flipped, a 512-byte sector overwritten, 64 KiB overwritten, truncated, deleted), each on
// a fresh copy of one small multi-file archive. check (or --deep where only slab content changed)
// must detect every one and name exactly the damaged streams, against a ground truth computed
// here independently: which slabs each stream references (dump-stream --json) and which slab
// records, index entries or stream files the damaged bytes hit (docs/durability.md, "Ground truth").
// DISKARC_DAMAGE_TRIALS / DISKARC_DAMAGE_SEED rerun it larger or with another seed;
// DISKARC_DAMAGE_VERIFY=1 also verifies the streams check calls intact (reported, not asserted).
import test from 'ava';
import { cp, readFile, rm, stat, truncate, open, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { diskarc, diskarcJson, seededBytes, tempDir } from '../harness.js';

const TRIALS = Number(process.env.DISKARC_DAMAGE_TRIALS ?? 90);
const SEED = Number(process.env.DISKARC_DAMAGE_SEED ?? 16);
/** Also verify every stream check calls intact (a survey of the readers, not asserted: some
 * damage still stops readers opening the whole archive — docs/durability.md). */
const VERIFY_INTACT = process.env.DISKARC_DAMAGE_VERIFY === '1';

const FILE_KINDS = ['slab data', 'data offsets', 'hash list', 'hash offsets', 'stream map', 'map index', 'stream metadata', 'config', 'dedup index'] as const;
const DAMAGE_KINDS = ['flip 1 byte', 'overwrite sector', 'overwrite 64 KiB', 'truncate', 'delete'] as const;
type FileKind = (typeof FILE_KINDS)[number];
type DamageKind = (typeof DAMAGE_KINDS)[number];

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

interface SlabFile {
  /** Slab i occupies [spans[i][0], spans[i][1]) of the file. */
  spans: Array<[number, number]>;
}

interface Truth {
  pairs: number[];
  data: Map<number, SlabFile>;
  hashes: Map<number, SlabFile>;
  /** First slab id of each pair. */
  first: Map<number, number>;
  total: number;
  /** Stream id → slab ids its map references. */
  refs: Map<string, Set<number>>;
}

const pad = (n: number) => `${String(n).padStart(6, '0')}.slab`;

async function slabFile(path: string): Promise<SlabFile> {
  const raw = await readFile(path + '.offsets');
  const size = (await stat(path)).size;
  const at: number[] = [];
  for (let i = 0; i + 8 <= raw.length; i += 8) at.push(Number(raw.readBigUInt64LE(i)));
  return { spans: at.map((a, i) => [a, at[i + 1] ?? size]) };
}

async function groundTruth(arc: string): Promise<Truth> {
  const pairs = (await readdir(join(arc, 'data'))).filter((n) => /^\d{6}\.slab$/.test(n)).map((n) => Number(n.slice(0, 6))).sort((a, b) => a - b);
  const t: Truth = { pairs, data: new Map(), hashes: new Map(), first: new Map(), total: 0, refs: new Map() };
  for (const n of pairs) {
    t.data.set(n, await slabFile(join(arc, 'data', pad(n))));
    t.hashes.set(n, await slabFile(join(arc, 'hashes', pad(n))));
    t.first.set(n, t.total);
    t.total += Math.min(t.data.get(n)!.spans.length, t.hashes.get(n)!.spans.length);
  }
  const list = await diskarcJson<{ streams: Array<{ id: string }> }>('list', '-a', arc);
  for (const { id } of list.streams) {
    const r = await diskarc('dump-stream', '-a', arc, '-s', id, '--json');
    const slabs = new Set<number>();
    for (const line of r.stdout.split('\n')) if (line) {
      const e = JSON.parse(line) as { type: string; slab?: number };
      if (e.type === 'data') slabs.add(e.slab!);
    }
    t.refs.set(id, slabs);
  }
  return t;
}

/** Slab ids a damage makes unreadable, by the rules of docs/durability.md (computed from the pristine files). */
function damagedSlabs(t: Truth, kind: FileKind, pair: number, damage: DamageKind, range: [number, number]): Set<number> {
  const out = new Set<number>();
  const first = t.first.get(pair)!;
  const file = (kind === 'slab data' || kind === 'data offsets' ? t.data : t.hashes).get(pair)!;
  const count = Math.min(t.data.get(pair)!.spans.length, t.hashes.get(pair)!.spans.length);
  const later = () => { for (let id = first + count; id < t.total; id++) out.add(id); };
  const [a, b] = range;
  if (kind === 'slab data' || kind === 'hash list') {
    if (damage === 'delete' || a < 16) {
      for (let i = 0; i < count; i++) out.add(first + i);
      if (damage === 'delete') later(); // numbering of later files shifts
    } else file.spans.forEach(([s, e], i) => { if (i < count && s < b && a < e) out.add(first + i); });
  } else {
    if (damage === 'delete') return out; // rebuilt by scanning: nothing lost
    for (let i = 0; i < count; i++) if (8 * i < b && a < 8 * i + 8) out.add(first + i);
    if (damage === 'truncate') later();
  }
  return out;
}

async function damageFile(path: string, damage: DamageKind, r: () => number): Promise<[number, number]> {
  const size = (await stat(path)).size;
  if (damage === 'delete') {
    await rm(path);
    return [0, size];
  }
  if (damage === 'truncate') {
    const to = Math.floor(r() * size);
    await truncate(path, to);
    return [to, size];
  }
  const fh = await open(path, 'r+');
  try {
    if (damage === 'flip 1 byte') {
      const at = Math.floor(r() * size);
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, at);
      b[0] ^= 0xff;
      await fh.write(b, 0, 1, at);
      return [at, at + 1];
    }
    const want = damage === 'overwrite sector' ? 512 : 65536;
    const len = Math.min(want, size);
    const at = damage === 'overwrite sector' ? Math.floor((r() * Math.max(1, size - len + 1)) / 512) * 512 : Math.floor(r() * (size - len + 1));
    const len2 = Math.min(len, size - at);
    const junk = seededBytes(len2, Math.floor(r() * 2 ** 31) + 1);
    await fh.write(junk, 0, len2, at);
    return [at, at + len2];
  } finally {
    await fh.close();
  }
}

test('check detects every seeded damage and names exactly the damaged streams', async (t) => {
  t.timeout(600_000);
  const dir = await tempDir(t);
  const arc = join(dir, 'pristine');
  const a = seededBytes(768 * 1024, 1);
  const b = Buffer.concat([a.subarray(0, 256 * 1024), seededBytes(512 * 1024, 2)]);
  const c = Buffer.concat([Buffer.alloc(256 * 1024), seededBytes(256 * 1024, 3), a.subarray(512 * 1024)]);
  await writeFile(join(dir, 'a.img'), a);
  await writeFile(join(dir, 'b.img'), b);
  await writeFile(join(dir, 'c.img'), c);
  for (const args of [['create', '-a', arc, '--slab-size', '64KiB', '--slab-file-limit', '256KiB'], ...['a', 'b', 'c'].map((n) => ['pack', '-a', arc, join(dir, `${n}.img`)])]) {
    const r = await diskarc(...args);
    t.is(r.code, 0, r.stderr);
  }
  const clean = await diskarc('check', '-a', arc, '--deep', '--json');
  t.is(clean.code, 0, clean.stdout);
  const truth = await groundTruth(arc);
  t.true(truth.pairs.length >= 3, 'several slab file pairs');
  const streamIds = [...truth.refs.keys()];

  const r = rng(SEED);
  const table = new Map<string, { trials: number; fast: number; deep: number; exact: number; intact: number; readable: number }>();
  const failures: string[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    // Round-robin over the combinations, random within each: every cell gets trials.
    const kind = FILE_KINDS[trial % FILE_KINDS.length];
    const damage = DAMAGE_KINDS[Math.floor(trial / FILE_KINDS.length) % DAMAGE_KINDS.length];
    const copy = join(dir, `t${trial}`);
    await cp(arc, copy, { recursive: true });
    const pair = truth.pairs[Math.floor(r() * truth.pairs.length)];
    const stream = streamIds[Math.floor(r() * streamIds.length)];
    const rel = {
      'slab data': `data/${pad(pair)}`, 'data offsets': `data/${pad(pair)}.offsets`, 'hash list': `hashes/${pad(pair)}`, 'hash offsets': `hashes/${pad(pair)}.offsets`,
      'stream map': `streams/${stream}/map`, 'map index': `streams/${stream}/map.index`, 'stream metadata': `streams/${stream}/meta.json`, config: 'diskarc.json', 'dedup index': 'index/dedup.idx',
    }[kind];
    const range = await damageFile(join(copy, rel), damage, r);
    let expected: Set<string>;
    if (kind === 'config') expected = new Set(streamIds);
    else if (kind === 'dedup index') expected = new Set();
    else if (kind.startsWith('stream') || kind === 'map index') expected = new Set([stream]);
    else {
      const slabs = damagedSlabs(truth, kind, pair, damage, range);
      expected = new Set(streamIds.filter((id) => [...truth.refs.get(id)!].some((s) => slabs.has(s))));
    }
    type Report = { problems: unknown[]; notes: Array<{ file: string }>; streams: Array<{ id: string; intact: boolean }> };
    const parse = (out: string): Report => {
      try {
        return JSON.parse(out) as Report;
      } catch {
        return { problems: [], notes: [], streams: [] };
      }
    };
    let res = await diskarc('check', '-a', copy, '--json');
    let report = parse(res.stdout);
    // A missing dedup snapshot is a normal state (a rolled-back pack removes it): noted, exit 0.
    // Without its meta.json — the commit point (format.md §7) — a stream is uncommitted, the state a
    // pack killed before its commit leaves: check names the folder in a note, not as damage.
    const uncommitted = kind === 'stream metadata' && damage === 'delete';
    const noted =
      ((kind === 'dedup index' && damage === 'delete') || uncommitted) &&
      res.code === 0 &&
      report.notes.some((n) => n.file === (uncommitted ? dirname(rel) : rel));
    const fast = noted || (res.code === 8 && report.problems.length > 0);
    let deep = false;
    // Slab payloads are read by --deep only: when bytes of a data slab file changed, only its
    // answer is complete (a fast check may see a damaged header next to a payload it cannot judge).
    const contentOnly = kind === 'slab data' && damage !== 'truncate' && damage !== 'delete';
    if (!fast || contentOnly) {
      res = await diskarc('check', '-a', copy, '--deep', '--json');
      report = parse(res.stdout);
      deep = res.code === 8 && report.problems.length > 0;
    }
    const named = new Set(report.streams.filter((s) => !s.intact).map((s) => s.id));
    const exact = uncommitted ? noted && named.size === 0 : named.size === expected.size && [...named].every((id) => expected.has(id));
    const detected = contentOnly ? deep : fast || deep;
    const cell = `${kind} | ${damage}`;
    const row = table.get(cell) ?? { trials: 0, fast: 0, deep: 0, exact: 0, intact: 0, readable: 0 };
    if (VERIFY_INTACT) {
      for (const s of report.streams.filter((s) => s.intact)) {
        row.intact++;
        if ((await diskarc('verify', '-a', copy, '-s', s.id)).code === 0) row.readable++;
      }
    }
    row.trials++;
    if (fast) row.fast++;
    if (detected) row.deep++;
    if (exact) row.exact++;
    table.set(cell, row);
    if (!detected || !exact) failures.push(`trial ${trial} (seed ${SEED}): ${cell} ${rel} bytes [${range[0]}, ${range[1]}): ${detected ? '' : 'NOT DETECTED; '}named ${[...named].join(',') || 'none'}, expected ${[...expected].join(',') || 'none'} (exit ${res.code})\n${res.stdout.slice(0, 2000)}${res.stderr.slice(0, 2000)}`);
    await rm(copy, { recursive: true, force: true });
  }
  const extra = VERIFY_INTACT ? ' streams reported intact | of them verify |' : '';
  const lines = [`| file kind | damage | trials | detected by the fast check | detected (--deep where only slab content changed) | named exactly |${extra}`, `|---|---|---|---|---|---|${VERIFY_INTACT ? '---|---|' : ''}`];
  for (const [cell, row] of table) lines.push(`| ${cell} | ${row.trials} | ${row.fast} | ${row.deep} | ${row.exact} |${VERIFY_INTACT ? ` ${row.intact} | ${row.readable} |` : ''}`);
  t.log(`\n${lines.join('\n')}`);
  t.deepEqual(failures, []);
});
