// `diskarc dump-stream` and `diskarc info` as a user runs them, on a small real archive:
// --json is JSON Lines whose extents tile the requested range, an --offset past the end is a
// range error (not an empty map), and a damaged stream is reported as damaged however it is named.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskarc } from '../../archive/harness.js';

let tmp = '';
let archive = '';
const ids: Record<string, string> = {};
const SIZE = 3 * 1024 * 1024 + 4096;

async function ok(...args: string[]): Promise<string> {
  const r = await diskarc(...args);
  if (r.code !== 0) throw new Error(`diskarc ${args.join(' ')} → exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'diskarc-dump-'));
  archive = join(tmp, 'arc');
  await ok('create', '-a', archive);
  // Data, a zero run (a fill) and more data, so the map has several extent types.
  const input = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(1024 * 1024), randomBytes(SIZE - 2 * 1024 * 1024)]);
  for (const name of ['one', 'two']) {
    await writeFile(join(tmp, name), input);
    ids[name] = (
      JSON.parse(await ok('pack', '-a', archive, join(tmp, name), '--name', name, '--no-verify', '--json')) as { id: string }
    ).id;
  }
});
test.after.always(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface ExtentLine {
  offset: number;
  length: number;
  type: string;
}

test('dump-stream --json prints JSON Lines: one object per extent, tiling the requested range', async (t) => {
  const lines = (await ok('dump-stream', '-a', archive, '-s', 'one', '--json')).trim().split('\n');
  t.true(lines.length > 3);
  const extents = lines.map((l) => JSON.parse(l) as ExtentLine);
  let at = 0;
  for (const e of extents) {
    t.is(e.offset, at);
    at += e.length;
  }
  t.is(at, SIZE);
  t.true(extents.some((e) => e.type === 'fill') && extents.some((e) => e.type === 'data'));
  // A window starts inside its first extent and stops at the end of the stream.
  const window = (await ok('dump-stream', '-a', archive, '-s', 'one', '--offset', '1MiB', '--length', '1GiB', '--json'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ExtentLine);
  t.true(window[0]!.offset <= 1024 * 1024 && window[0]!.offset + window[0]!.length > 1024 * 1024);
  const last = window[window.length - 1]!;
  t.is(last.offset + last.length, SIZE);
});

test('dump-stream --offset at or past the end is a range error (exit 2), with a JSON error under --json', async (t) => {
  for (const offset of [String(SIZE), '1GiB']) {
    const r = await diskarc('dump-stream', '-a', archive, '-s', 'one', '--offset', offset, '--json');
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /--offset \d+ is past the end of stream [0-9a-f]{16} \(3149824 bytes/);
    const e = JSON.parse(r.stdout) as { error: { code: string; size: number } };
    t.is(e.error.code, 'ERANGE');
    t.is(e.error.size, SIZE);
  }
  // The last byte is still inside.
  const lastByte = (await ok('dump-stream', '-a', archive, '-s', 'one', '--offset', String(SIZE - 1), '--json')).trim().split('\n');
  t.is(lastByte.length, 1);
});

test('info on a stream with damaged metadata reports the damage (exit 8) by full id and by unique prefix alike', async (t) => {
  const damaged = ids.two!;
  await writeFile(join(archive, 'streams', damaged, 'meta.json'), '{"id": "truncated');
  // The shortest prefix that names only the damaged stream.
  let prefix = '';
  for (let n = 1; n <= 16; n++) {
    prefix = damaged.slice(0, n);
    if (!ids.one!.startsWith(prefix)) break;
  }
  for (const ref of [damaged, prefix]) {
    const r = await diskarc('info', '-a', archive, '-s', ref, '--json');
    t.is(r.code, 8, `info -s ${ref}: ${r.stderr}`);
    t.regex(r.stderr, new RegExp(`stream ${damaged}: metadata .* is unreadable`));
    t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'ECORRUPT');
  }
  // The healthy stream is still found, and a name that matches nothing says which streams could not be searched.
  t.is((JSON.parse(await ok('info', '-a', archive, '-s', 'one', '--json')) as { id: string }).id, ids.one);
  const none = await diskarc('info', '-a', archive, '-s', 'no-such-name');
  t.is(none.code, 4);
  t.regex(none.stderr, new RegExp(`1 stream\\(s\\) with damaged metadata could not be searched by name: ${damaged}`));
  // A prefix shared by a healthy and a damaged stream is ambiguous, naming both.
  const twin = ids.one!.slice(0, 8) + (ids.one![8] === '0' ? '1' : '0') + ids.one!.slice(9);
  await mkdir(join(archive, 'streams', twin));
  await writeFile(join(archive, 'streams', twin, 'meta.json'), 'not json');
  const amb = await diskarc('info', '-a', archive, '-s', ids.one!.slice(0, 8));
  t.is(amb.code, 4, amb.stderr);
  t.regex(amb.stderr, new RegExp(`ambiguous: ${ids.one}, ${twin} \\(damaged\\)`));
});
