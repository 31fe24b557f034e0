// One contract for every storage backend (docs/storage.md): each test runs against the local
// backend on a real temporary directory, the memory backend, and the memory backend in
// object-store mode. Backend-specific facts (the lock raced by real processes, the lent file
// descriptor, crash()) follow the shared suite.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fstatSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { crc32 } from 'node:zlib';
import { compress } from 'zstd-napi';
import { native } from '../../native/index.js';
import { fileURLToPath } from 'node:url';
import { isDiskarcError, type ErrorCode } from '../../src/errors.js';
import type { Storage } from '../../src/storage/backend.js';
import { checkKey, DATA_PREFIX, LOCK_KEY, offsetsKey, parseSlabFileKey, parseStreamKey, slabFileKey, streamKey } from '../../src/storage/keys.js';
import { LocalStorage } from '../../src/storage/local.js';
import { currentHolder, encodeHolder, type LockHolder } from '../../src/storage/lock-holder.js';
import { MemoryStorage } from '../../src/storage/memory.js';

interface Subject {
  storage: Storage;
  /** The same storage as a later process would open it. */
  reopen(): Promise<Storage>;
  /** Leaves a lock held by `holder`, as a writer that crashed would. */
  plantLock(holder: LockHolder): Promise<void>;
}

const fixtures: Array<{ name: string; make(t: ExecutionContext): Promise<Subject> }> = [
  {
    name: 'local',
    async make(t) {
      const dir = await mkdtemp(join(tmpdir(), 'diskarc-storage-'));
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const root = join(dir, 'archive');
      return {
        storage: await LocalStorage.create(root),
        reopen: () => LocalStorage.open(root),
        plantLock: (h) => writeFile(join(root, LOCK_KEY), encodeHolder(h)),
      };
    },
  },
  {
    name: 'memory',
    async make() {
      const storage = new MemoryStorage();
      return { storage, reopen: async () => storage, plantLock: async (h) => storage.plantLock(h) };
    },
  },
  {
    name: 'memory (object store)',
    async make() {
      const storage = new MemoryStorage({ objectStore: true });
      return { storage, reopen: async () => storage, plantLock: async (h) => storage.plantLock(h) };
    },
  },
];

function bytes(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

async function code(p: Promise<unknown> | (() => unknown)): Promise<ErrorCode | 'ok' | string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (e) {
    return isDiskarcError(e) ? e.code : `non-DiskarcError: ${(e as Error).message}`;
  }
}

/** A holder that really existed on this machine and has exited (its pid is free, or reused). */
async function exitedHolder(): Promise<LockHolder> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  await once(child, 'spawn');
  const statLine = await readFile(`/proc/${child.pid}/stat`, 'utf8');
  const startTime = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ')[19];
  child.kill('SIGKILL');
  await once(child, 'exit');
  return { ...(await currentHolder()), pid: child.pid!, startTime };
}

const ID = '0123456789abcdef';

for (const f of fixtures) {
  const name = (what: string) => `${f.name}: ${what}`;

  test(name('ranged reads fill the caller\'s buffer, stop short at the end, and read nothing past it'), async (t) => {
    const { storage } = await f.make(t);
    const data = bytes(10000, 1);
    await storage.put('data/000000.slab', data);
    const into = Buffer.alloc(100);
    t.is(await storage.read('data/000000.slab', 0, into), 100);
    t.deepEqual(into, data.subarray(0, 100));
    t.is(await storage.read('data/000000.slab', 9950, into), 50, 'a read across the end is short');
    t.deepEqual(into.subarray(0, 50), data.subarray(9950));
    t.is(await storage.read('data/000000.slab', 10000, into), 0);
    t.is(await storage.read('data/000000.slab', 1e9, into), 0);
    const r = await storage.open('data/000000.slab');
    t.is(await r.size(), 10000);
    const big = Buffer.alloc(4000);
    t.is(await r.read(big, 3000), 4000);
    t.deepEqual(big, data.subarray(3000, 7000));
    await r.close();
    t.deepEqual(await storage.readAll('data/000000.slab'), data);
    t.is(await code(storage.read('data/000000.slab', -1, into)), 'ERANGE');
    t.is(await code(storage.read('data/000000.slab', 1.5, into)), 'ERANGE');
    for (const missing of [() => storage.read('data/000001.slab', 0, into), () => storage.stat('nope'), () => storage.open('nope'), () => storage.readAll('nope'), () => storage.stat('data/000000.slab/x')]) {
      t.is(await code(missing), 'ENOKEY');
    }
    const e = await storage.stat('nope').catch((x: unknown) => x);
    t.true(isDiskarcError(e, 'ENOKEY') && e.details.key === 'nope' && e.message.includes(storage.where('nope')));
  });

  test(name('put is write-once, atomic and durable; replace swaps a whole object'), async (t) => {
    const s = await f.make(t);
    const { storage } = s;
    const a = bytes(3000, 2);
    await storage.put('diskarc.json', [a.subarray(0, 1000), a.subarray(1000)]);
    t.deepEqual(await storage.stat('diskarc.json'), { key: 'diskarc.json', size: 3000, sealed: true });
    t.is(await code(storage.put('diskarc.json', Buffer.from('other'))), 'EEXIST');
    t.deepEqual(await storage.readAll('diskarc.json'), a, 'a refused put changes nothing');
    await storage.put('index/dedup.idx', Buffer.from('one'));
    await storage.put('index/dedup.idx', Buffer.from('second'), { replace: true });
    t.is((await storage.readAll('index/dedup.idx')).toString(), 'second');
    // A key cannot be another key's folder (as on a filesystem), in either order.
    t.is(await code(storage.put('diskarc.json/x', a)), 'EEXIST');
    t.is(await code(storage.put('index', a)), 'EEXIST');
    // Durable: a later opener sees it.
    t.deepEqual(await (await s.reopen()).readAll('diskarc.json'), a);

    // Atomic: while a large put runs, readers see no object or all of it, never a part.
    const big = bytes(8 * 1024 * 1024, 3);
    let done = false;
    const seen = new Set<string>();
    const writing = storage.put('streams/' + ID + '/map', big).finally(() => (done = true));
    while (!done) {
      const info = await storage.stat('streams/' + ID + '/map').catch((e: unknown) => (isDiskarcError(e, 'ENOKEY') ? undefined : Promise.reject(e)));
      seen.add(info ? `${info.size}` : 'absent');
      await new Promise((r) => setImmediate(r));
    }
    await writing;
    seen.add(`${(await storage.stat('streams/' + ID + '/map')).size}`);
    t.true([...seen].every((v) => v === 'absent' || v === String(big.length)), `observed sizes: ${[...seen].join(', ')}`);
  });

  test(name('an append handle appends, syncs, truncates to a committed length and seals'), async (t) => {
    const s = await f.make(t);
    const { storage } = s;
    const key = slabFileKey('data', 0);
    const h = await storage.append(key);
    const one = bytes(1000, 4);
    const two = bytes(500, 5);
    // Issued without awaiting: each append still gets the next offset.
    const [o1, o2] = await Promise.all([h.append([one.subarray(0, 24), one.subarray(24)]), h.append([two])]);
    t.deepEqual([o1, o2, h.length], [0, 1000, 1500]);
    await h.sync();
    if (storage.traits.appendInPlace) {
      t.deepEqual(await storage.stat(key), { key, size: 1500, sealed: false }, 'synced bytes are visible before seal');
      t.deepEqual(await storage.readAll(key), Buffer.concat([one, two]));
    } else {
      t.is(await code(storage.stat(key)), 'ENOKEY', 'an object store shows nothing before seal');
      t.deepEqual(await storage.list(DATA_PREFIX), []);
    }
    t.is(await code(storage.append(key)), 'EEXIST', 'a key being appended is not started again');
    // A failed pack rolls back its torn tail to the committed length.
    await h.append([bytes(700, 6)]);
    t.is(await code(h.truncate(5000)), 'ERANGE');
    await h.truncate(1500);
    t.is(h.length, 1500);
    t.is(await h.append([two]), 1500);
    await h.seal();
    t.deepEqual(await storage.stat(key), { key, size: 2000, sealed: true });
    t.deepEqual(await storage.readAll(key), Buffer.concat([one, two, two]));
    const later = await s.reopen();
    t.true((await later.stat(key)).sealed, 'sealing is durable');
    t.is(await code(later.append(key)), 'EEXIST');
    t.is(await code(later.append(key, { resumeAt: 1000 })), storage.traits.appendInPlace ? 'EEXIST' : 'EUSAGE', 'a sealed key is never appended to');
    t.is(await code(later.put(key, one)), 'EEXIST');
  });

  test(name('an unsealed key is resumed at its committed length (append in place) or refused (object store)'), async (t) => {
    const s = await f.make(t);
    const { storage } = s;
    const key = offsetsKey(slabFileKey('hashes', 3));
    const h = await storage.append(key);
    await h.append([bytes(64, 7)]);
    await h.sync();
    await h.append([bytes(100, 8)]); // a torn tail: not committed
    await h.close();
    const later = await s.reopen();
    if (!storage.traits.appendInPlace) {
      t.is(await code(later.append(key, { resumeAt: 64 })), 'EUSAGE');
      t.true((await later.stat(key)).sealed, 'close() seals on an object store');
      return;
    }
    t.false((await later.stat(key)).sealed);
    t.is(await code(later.append(key, { resumeAt: 1000 })), 'ECORRUPT', 'shorter than committed: damage, not a resume');
    const r = await later.append(key, { resumeAt: 64 });
    t.is(r.length, 64);
    t.is((await later.stat(key)).size, 64, 'the tail after the committed length is gone');
    t.is(await r.append([bytes(8, 9)]), 64);
    await r.seal();
    t.deepEqual(await later.readAll(key), Buffer.concat([bytes(64, 7), bytes(8, 9)]));
  });

  test(name('move makes the new key appear whole and the old one go; it never overwrites'), async (t) => {
    const { storage } = await f.make(t);
    const meta = Buffer.from('{"id":"' + ID + '"}');
    const staged = 'streams/.tmp-' + ID + '/meta.json';
    const final = streamKey(ID, 'meta.json');
    await storage.put(staged, meta);
    t.is(await code(storage.stat(final)), 'ENOKEY', 'not visible before the commit');
    t.deepEqual((await storage.list('streams/')).map((k) => k.key), [staged]);
    await storage.move(staged, final);
    t.deepEqual(await storage.readAll(final), meta);
    t.is(await code(storage.stat(staged)), 'ENOKEY');
    t.deepEqual((await storage.list('streams/')).map((k) => k.key), [final]);
    await storage.put(staged, Buffer.from('again'));
    t.is(await code(storage.move(staged, final)), 'EEXIST');
    t.deepEqual(await storage.readAll(final), meta, 'the existing key is untouched');
    t.is((await storage.readAll(staged)).toString(), 'again');
    t.is(await code(storage.move('streams/nothing', 'streams/other')), 'ENOKEY');
  });

  test(name('list gives the keys under a prefix, sorted, with sizes; never the lock'), async (t) => {
    const { storage } = await f.make(t);
    const keys = [
      'diskarc.json', 'data/000001.slab', 'data/000000.slab', 'data/000000.slab.offsets', 'hashes/000000.slab',
      streamKey(ID, 'meta.json'), streamKey(ID, 'map'), 'index/dedup.idx',
    ];
    for (const [i, k] of keys.entries()) await storage.put(k, bytes(10 + i, i + 1));
    const lock = await storage.lockWriter();
    const all = await storage.list('');
    t.deepEqual(all.map((k) => k.key), [...keys].sort());
    t.deepEqual(all.find((k) => k.key === 'data/000000.slab'), { key: 'data/000000.slab', size: 12, sealed: true });
    t.deepEqual((await storage.list('data/')).map((k) => k.key), ['data/000000.slab', 'data/000000.slab.offsets', 'data/000001.slab']);
    t.deepEqual((await storage.list('data/000000')).map((k) => k.key), ['data/000000.slab', 'data/000000.slab.offsets']);
    t.deepEqual((await storage.list('d')).map((k) => k.key), ['data/000000.slab', 'data/000000.slab.offsets', 'data/000001.slab', 'diskarc.json']);
    t.deepEqual((await storage.list(`streams/${ID}/`)).map((k) => k.key), [streamKey(ID, 'map'), streamKey(ID, 'meta.json')]);
    t.deepEqual(await storage.list('nothing/'), []);
    const h = await storage.append('data/000002.slab');
    await h.append([bytes(5, 1)]);
    await h.sync();
    t.is((await storage.list('data/000002')).length, storage.traits.appendInPlace ? 1 : 0);
    await h.seal();
    t.deepEqual(await storage.list('data/000002'), [{ key: 'data/000002.slab', size: 5, sealed: true }]);
    await lock.release();
  });

  test(name('remove deletes a key; a missing one is ENOKEY unless ifExists'), async (t) => {
    const { storage } = await f.make(t);
    await storage.put('index/dedup.idx', Buffer.from('x'));
    t.true(await storage.remove('index/dedup.idx'));
    t.is(await code(storage.stat('index/dedup.idx')), 'ENOKEY');
    t.is(await code(storage.remove('index/dedup.idx')), 'ENOKEY');
    t.false(await storage.remove('index/dedup.idx', { ifExists: true }));
    await storage.put('index/dedup.idx', Buffer.from('y'));
    t.is((await storage.readAll('index/dedup.idx')).toString(), 'y', 'a removed key may be written again');
  });

  test(name('the writer lock is exclusive and released only by its holder'), async (t) => {
    const { storage } = await f.make(t);
    const lock = await storage.lockWriter();
    const second = await storage.lockWriter().catch((e: unknown) => e);
    t.true(isDiskarcError(second, 'ELOCKED'), 'a live holder (this very process) keeps the lock');
    t.true(isDiskarcError(second) && second.message.includes(`process ${process.pid}`) && second.message.includes('wait for it to finish'));
    await lock.release();
    const again = await storage.lockWriter();
    await lock.release(); // idempotent, and not the new holder's lock to remove
    t.is(await code(storage.lockWriter()), 'ELOCKED');
    await again.release();
    await (await storage.lockWriter()).release();
  });

  test(name('a stale lock is taken over only when its holder is provably gone'), async (t) => {
    const s = await f.make(t);
    const { storage } = s;
    const me = await currentHolder();
    const gone: Array<[string, LockHolder]> = [
      ['an exited process', await exitedHolder()],
      ['a reused pid (same pid, other start time)', { ...me, startTime: '1' }],
      ['an earlier boot', { ...me, bootId: '00000000-0000-0000-0000-000000000000' }],
    ];
    for (const [why, holder] of gone) {
      await s.plantLock(holder);
      const lock = await storage.lockWriter().catch((e: unknown) => e);
      t.false(lock instanceof Error, `${why}: ${(lock as Error).message}`);
      if (!(lock instanceof Error)) {
        t.not((lock as { holder: LockHolder }).holder.nonce, holder.nonce);
        // The taker holds it now: nobody else gets it.
        t.is(await code(storage.lockWriter()), 'ELOCKED', why);
        await (lock as { release(): Promise<void> }).release();
      }
    }
    const unprovable: Array<[string, LockHolder]> = [
      ['a live process', { ...me, nonce: 'f'.repeat(32) }],
      ['another host', { ...me, host: 'elsewhere.example' }],
      ['another machine of the same name (it may have booted since)', { ...me, machineId: '0'.repeat(32), bootId: '00000000-0000-0000-0000-000000000000' }],
      ['another pid namespace', { ...me, pidNamespace: 'pid:[1]', startTime: '1' }],
    ];
    for (const [why, holder] of unprovable) {
      await s.plantLock(holder);
      const e = await storage.lockWriter().catch((x: unknown) => x);
      t.true(isDiskarcError(e, 'ELOCKED'), why);
      t.true(isDiskarcError(e) && (e.details.holder as LockHolder).nonce === holder.nonce, why);
      if (why !== 'a live process') t.true(isDiskarcError(e) && e.message.includes(`remove ${storage.where('lock')}`), `${why}: says how to clear it by hand`);
    }
  });

  test(name('concurrent takers of one stale lock: exactly one wins'), async (t) => {
    const s = await f.make(t);
    await s.plantLock(await exitedHolder());
    // Each call's steps interleave on the event loop, as separate processes' would.
    const got = await Promise.allSettled(Array.from({ length: 6 }, () => s.storage.lockWriter()));
    const won = got.filter((g) => g.status === 'fulfilled');
    t.is(won.length, 1, got.map((g) => (g.status === 'fulfilled' ? 'got it' : (g.reason as Error).message)).join('; '));
    for (const g of got) if (g.status === 'rejected') t.true(isDiskarcError(g.reason, 'ELOCKED'), String(g.reason));
    for (const w of won) await (w as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    await (await s.storage.lockWriter()).release();
  });

  test(name('every operation refuses an invalid key'), async (t) => {
    const { storage } = await f.make(t);
    const bad = ['', '/etc/passwd', '../outside', 'data/../../x', 'data//000000.slab', 'data/', '.', 'a/./b', 'with space', 'tilde~x', 'back\\slash', 'nul\0', 'é', LOCK_KEY, 'x'.repeat(256), ('a/'.repeat(600) + 'a')];
    for (const key of bad) {
      for (const op of [() => storage.put(key, Buffer.from('x')), () => storage.stat(key), () => storage.read(key, 0, Buffer.alloc(1)), () => storage.open(key), () => storage.append(key), () => storage.remove(key), () => storage.move('diskarc.json', key), () => storage.readAll(key)]) {
        t.is(await code(op), 'EUSAGE', JSON.stringify(key));
      }
    }
    for (const prefix of ['/', '../', 'a//', 'sp ace/']) t.is(await code(storage.list(prefix)), 'EUSAGE', prefix);
    t.deepEqual(await storage.list(''), [], 'nothing was written');
  });
}

test('keys: every archive name comes from keys.ts and passes its check', (t) => {
  t.is(slabFileKey('data', 0), 'data/000000.slab');
  t.is(slabFileKey('hashes', 999999), 'hashes/999999.slab');
  t.is(offsetsKey('data/000007.slab'), 'data/000007.slab.offsets');
  t.deepEqual(parseSlabFileKey('hashes/000042.slab'), { kind: 'hashes', number: 42 });
  t.is(parseSlabFileKey('data/000042.slab.offsets'), undefined);
  t.is(parseSlabFileKey('data/42.slab'), undefined);
  t.is(streamKey(ID, 'map.index'), `streams/${ID}/map.index`);
  t.deepEqual(parseStreamKey(`streams/${ID}/meta.json`), { id: ID, file: 'meta.json' });
  t.is(parseStreamKey(`streams/.tmp-${ID}/meta.json`), undefined, 'a temp dir of an interrupted pack is not a stream');
  t.throws(() => streamKey('../../etc', 'map'), { code: 'EUSAGE' } as never);
  t.throws(() => slabFileKey('data', 1e6), { code: 'EUSAGE' } as never);
  t.throws(() => slabFileKey('data', -1), { code: 'EUSAGE' } as never);
  for (const k of ['diskarc.json', 'index/dedup.idx', `streams/.tmp-${ID}/map`]) t.is(checkKey(k), k);
});

// ---- local only ----

const RACER = fileURLToPath(new URL('./lock-racer.js', import.meta.url));

/** Starts `n` processes that each try the lock on `root` at the same moment; returns what each got. */
async function race(root: string, n: number): Promise<{ results: Array<{ pid: number; got: boolean; code?: string; holder?: number }>; finish(): Promise<void> }> {
  const children = Array.from({ length: n }, () => spawn(process.execPath, [RACER, root], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = children.map((c) => createInterface({ input: c.stdout })[Symbol.asyncIterator]());
  const next = async (i: number) => {
    const r = await lines[i].next();
    if (r.done) throw new Error(`racer ${children[i].pid} ended early`);
    return r.value;
  };
  await Promise.all(children.map(async (_, i) => (await next(i)) === 'ready' || Promise.reject(new Error('racer did not start'))));
  for (const c of children) c.stdin.write('go\n');
  const results = await Promise.all(children.map(async (_, i) => JSON.parse(await next(i))));
  return {
    results,
    async finish() {
      for (const c of children) c.stdin.end();
      await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : once(c, 'exit'))));
    },
  };
}

test('local: processes racing for a free lock — exactly one gets it, the others are told who', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await LocalStorage.create(dir);
  const { results, finish } = await race(dir, 4);
  try {
    const winners = results.filter((r) => r.got);
    t.is(winners.length, 1, JSON.stringify(results));
    for (const r of results.filter((x) => !x.got)) t.deepEqual([r.code, r.holder], ['ELOCKED', winners[0].pid]);
    const held = JSON.parse(await readFile(join(dir, LOCK_KEY), 'utf8')) as LockHolder;
    t.is(held.pid, winners[0].pid);
  } finally {
    await finish();
  }
  t.deepEqual(await readdir(dir), [], 'released by its holder; no temp file left behind');
});

test('local: processes racing to take over a stale lock — exactly one takes it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await LocalStorage.create(dir);
  const dead = await exitedHolder();
  await writeFile(join(dir, LOCK_KEY), encodeHolder(dead));
  const { results, finish } = await race(dir, 4);
  try {
    const winners = results.filter((r) => r.got);
    t.is(winners.length, 1, JSON.stringify(results));
    for (const r of results.filter((x) => !x.got)) t.is(r.code, 'ELOCKED');
    t.is((JSON.parse(await readFile(join(dir, LOCK_KEY), 'utf8')) as LockHolder).pid, winners[0].pid);
    t.deepEqual((await readdir(dir)).filter((n) => n.includes('break')), [], 'the takeover lock is released');
  } finally {
    await finish();
  }
});

test('local: a taker that died mid-takeover leaves a takeover lock that is itself taken over', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const storage = await LocalStorage.create(dir);
  const stale = await exitedHolder();
  const deadTaker = { ...(await exitedHolder()), nonce: 'e'.repeat(32) };
  await writeFile(join(dir, LOCK_KEY), encodeHolder(stale));
  await writeFile(join(dir, `${LOCK_KEY}~break-${stale.nonce}`), encodeHolder(deadTaker));
  const lock = await storage.lockWriter();
  t.is((JSON.parse(await readFile(join(dir, LOCK_KEY), 'utf8')) as LockHolder).nonce, lock.holder.nonce);
  t.deepEqual(await readdir(dir), [LOCK_KEY], 'both takeover locks are gone');
  // A live taker's takeover lock is respected: the stale lock stays until that taker is done.
  await lock.release();
  await writeFile(join(dir, LOCK_KEY), encodeHolder(stale));
  await writeFile(join(dir, `${LOCK_KEY}~break-${stale.nonce}`), encodeHolder({ ...(await currentHolder()), nonce: 'd'.repeat(32) }));
  t.is(await code(storage.lockWriter()), 'ELOCKED');
});

test('local: a lock an older diskarc left (a bare pid) is not guessed at', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const storage = await LocalStorage.create(dir);
  await writeFile(join(dir, LOCK_KEY), '999999\n');
  const e = await storage.lockWriter().catch((x: unknown) => x);
  t.true(isDiskarcError(e, 'ELOCKED') && e.message.includes(`remove ${join(dir, LOCK_KEY)}`));
});

test('local: a lent descriptor stays open until the job using it ends', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const storage = await LocalStorage.create(dir);
  await storage.put('data/000000.slab', bytes(4096, 1));
  const r = await storage.open('data/000000.slab');
  const ino = (await stat(join(dir, 'data/000000.slab'))).ino;
  const job = r.withDescriptor(async (fd) => {
    await new Promise((res) => setTimeout(res, 50));
    // Had close() not waited: EBADF, or worse, the number reused by another file.
    return fstatSync(fd).ino;
  });
  t.truthy(job);
  const closing = r.close();
  t.is(await job, ino);
  await closing;
  const memory = new MemoryStorage();
  await memory.put('data/000000.slab', bytes(10, 1));
  t.is((await memory.open('data/000000.slab')).withDescriptor(async () => 1), undefined, 'no descriptor to lend: callers use read()');
});

test('local: the one-job native slab read runs on a lent descriptor', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const storage = await LocalStorage.create(dir);
  const raw = bytes(64 * 1024, 7);
  const frame = compress(raw);
  const HEADER = 24; // stands for a slab header: the job reads it along, the caller checks it
  const h = await storage.append('data/000000.slab');
  await h.append([Buffer.alloc(100), Buffer.alloc(HEADER, 0xaa), frame]);
  await h.seal();
  const r = await storage.open('data/000000.slab');
  const scratch = Buffer.alloc(HEADER + frame.length);
  const dst = Buffer.alloc(raw.length);
  const [got, crc, decoded] = await r.withDescriptor((fd) => native.readRecordDecoding(fd, 100, HEADER + frame.length, scratch, HEADER, dst))!;
  await r.close();
  t.deepEqual([got, crc, decoded], [HEADER + frame.length, crc32(frame), raw.length]);
  t.deepEqual(dst, raw);
});

test('local: files are read-only once put or sealed, and no temp file is left', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const storage = await LocalStorage.create(dir);
  await storage.put('diskarc.json', Buffer.from('{}'));
  await storage.put('index/dedup.idx', Buffer.from('1'));
  await storage.put('index/dedup.idx', Buffer.from('2'), { replace: true });
  const h = await storage.append('data/000000.slab');
  await h.append([Buffer.from('abc')]);
  t.is((await stat(join(dir, 'data/000000.slab'))).mode & 0o777 & 0o200, 0o200, 'writable while appended');
  await h.seal();
  for (const k of ['diskarc.json', 'index/dedup.idx', 'data/000000.slab']) t.is((await stat(join(dir, k))).mode & 0o222, 0, k);
  await writeFile(join(dir, 'data', '000001.slab~0123.tmp'), 'stray');
  t.deepEqual((await storage.list('data/')).map((k) => k.key), ['data/000000.slab'], 'temp names are not keys');
  t.deepEqual((await readdir(join(dir, 'index'))).sort(), ['dedup.idx']);
  t.is(await code(LocalStorage.create(dir)), 'EEXIST');
  t.is(await code(LocalStorage.open(join(dir, 'missing'))), 'ENOARCHIVE');
});

// ---- memory only ----

test('memory: crash() loses what was not synced and leaves a lock the next writer takes over', async (t) => {
  const storage = new MemoryStorage();
  const lock = await storage.lockWriter();
  const h = await storage.append('data/000000.slab');
  await h.append([bytes(100, 1)]);
  await h.sync();
  await h.append([bytes(50, 2)]);
  storage.crash();
  t.is(await code(h.append([bytes(1, 3)])), 'EIO');
  t.is((await storage.stat('data/000000.slab')).size, 100);
  const next = await storage.lockWriter();
  t.not(next.holder.nonce, lock.holder.nonce);
  const r = await storage.append('data/000000.slab', { resumeAt: 100 });
  t.is(r.length, 100);

  const objects = new MemoryStorage({ objectStore: true });
  const u = await objects.append('data/000000.slab');
  await u.append([bytes(10, 1)]);
  await u.sync();
  objects.crash();
  t.deepEqual(await objects.list(''), [], 'an object store keeps nothing of an unsealed key');
});
