// The memory backend stands in for the local one in unit tests, so it must answer as the local
// backend does: random sequences of operations (keys that collide as folders included) run on
// both, and every result — value or error code — and the final listing must agree.
import test from 'ava';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDiskarcError } from '../../src/errors.js';
import type { Storage } from '../../src/storage/backend.js';
import { LocalStorage } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';

const KEYS = ['a', 'a/b', 'a/c', 'data/000000.slab', 'data/000000.slab.offsets', 'data', 'x.json'];
const PREFIXES = ['', 'a', 'a/', 'data/', 'data/000000', 'x'];

type Op =
  | { op: 'put'; key: string; len: number; replace: boolean }
  | { op: 'append'; key: string; pieces: number[]; cut: number | undefined; end: 'seal' | 'close' | 'abandon' }
  | { op: 'resume'; key: string; at: number; add: number }
  | { op: 'read'; key: string; offset: number; len: number }
  | { op: 'stat' | 'readAll'; key: string }
  | { op: 'list'; prefix: string }
  | { op: 'move'; from: string; to: string }
  | { op: 'remove'; key: string; ifExists: boolean };

const key = fc.constantFrom(...KEYS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key, len: fc.integer({ min: 0, max: 300 }), replace: fc.boolean() }),
  fc.record({
    op: fc.constant('append' as const), key, pieces: fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 4 }),
    cut: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }), end: fc.constantFrom('seal' as const, 'close' as const, 'abandon' as const),
  }),
  fc.record({ op: fc.constant('resume' as const), key, at: fc.integer({ min: 0, max: 400 }), add: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ op: fc.constant('read' as const), key, offset: fc.integer({ min: 0, max: 500 }), len: fc.integer({ min: 0, max: 300 }) }),
  fc.record({ op: fc.constantFrom('stat' as const, 'readAll' as const), key }),
  fc.record({ op: fc.constant('list' as const), prefix: fc.constantFrom(...PREFIXES) }),
  fc.record({ op: fc.constant('move' as const), from: key, to: key }),
  fc.record({ op: fc.constant('remove' as const), key, ifExists: fc.boolean() }),
);

let seed = 0;
const fill = (n: number) => Buffer.alloc(n, ++seed & 0xff);

/** Runs one operation; returns a comparable description of its outcome. */
async function apply(s: Storage, o: Op, data: Buffer[]): Promise<unknown> {
  try {
    switch (o.op) {
      case 'put':
        return await s.put(o.key, data[0], { replace: o.replace });
      case 'append': {
        const h = await s.append(o.key);
        const offsets = [];
        for (const d of data) offsets.push(await h.append([d]));
        await h.sync();
        if (o.cut !== undefined) await h.truncate(Math.min(o.cut, h.length));
        const length = h.length;
        await h[o.end]();
        return { offsets, length };
      }
      case 'resume': {
        const h = await s.append(o.key, { resumeAt: o.at });
        await h.append([data[0]]);
        await h.close();
        return h.length;
      }
      case 'read': {
        const into = Buffer.alloc(o.len);
        const n = await s.read(o.key, o.offset, into);
        return into.subarray(0, n).toString('hex');
      }
      case 'stat':
        return await s.stat(o.key);
      case 'readAll':
        return (await s.readAll(o.key)).toString('hex');
      case 'list':
        return await s.list(o.prefix);
      case 'move':
        return await s.move(o.from, o.to);
      case 'remove':
        return await s.remove(o.key, { ifExists: o.ifExists });
    }
  } catch (e) {
    if (isDiskarcError(e)) return `error ${e.code}`;
    throw e;
  }
}

test('memory answers every sequence of operations as local does', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 20 }), async (ops) => {
      const dir = await mkdtemp(join(tmpdir(), 'diskarc-equiv-'));
      try {
        const local = await LocalStorage.create(join(dir, 'a'));
        const memory = new MemoryStorage();
        for (const [i, o] of ops.entries()) {
          const data = o.op === 'put' ? [fill(o.len)] : o.op === 'append' ? o.pieces.map(fill) : o.op === 'resume' ? [fill(o.add)] : [];
          const want = await apply(local, o, data);
          const got = await apply(memory, o, data);
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            throw new Error(`step ${i} ${JSON.stringify(o)}: local ${JSON.stringify(want)}, memory ${JSON.stringify(got)}`);
          }
        }
        t.deepEqual(await memory.list(''), await local.list(''));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 100, verbose: 2 },
  );
  t.pass();
});
