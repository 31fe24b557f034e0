// The local writer lock: a file whose content (its holder, lock-holder.ts) is written and fsynced
// under a temp name, then linked into place — the lock never exists empty or half-written. A lock
// whose holder is provably gone is replaced by rename(2), so its name is never free for a
// moment; racing takers of one stale lock are serialised by a second lock named after it.
import { readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { WriterLock } from './backend.js';
import { LOCK_KEY } from './keys.js';
import { decodeHolder, encodeHolder, holderState, lockedError, type LockHolder } from './lock-holder.js';
import { fileError, fsyncDir, writeNewFile, writeTempFile } from './local-files.js';

/** Takeovers of takeovers: each level means a taker died mid-takeover; past this, ask a person. */
const MAX_DEPTH = 3;
const MAX_ATTEMPTS = 5;

async function readHolder(path: string): Promise<{ raw: Buffer; holder: LockHolder | undefined } | undefined> {
  try {
    const raw = await readFile(path);
    return { raw, holder: decodeHolder(raw) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(e, LOCK_KEY, path, 'reading the lock');
  }
}

/** Holds lock file `name` in `dir` for `me`, or throws ELOCKED. */
async function acquire(dir: string, name: string, me: LockHolder, depth: number): Promise<void> {
  const path = join(dir, name);
  const content = encodeHolder(me);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      await writeNewFile(join(dir, `${name}~${me.nonce}.tmp`), path, [content], false);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(e, LOCK_KEY, path, 'taking the lock');
    }
    const found = await readHolder(path);
    if (!found) continue; // released between our link and our read: try again
    const state = found.holder ? await holderState(found.holder) : 'unreadable';
    if (state !== 'gone' || !found.holder) throw lockedError(path, found.holder, state);
    if (depth >= MAX_DEPTH) throw lockedError(path, found.holder, 'unknown');
    // Only one taker per stale lock: whoever holds `<name>~break-<its nonce>`. The winner checks
    // the lock is still that stale one, then renames its own over it.
    const breakName = `${name}~break-${found.holder.nonce}`;
    await acquire(dir, breakName, me, depth + 1);
    try {
      const now = await readHolder(path);
      if (now && now.raw.equals(found.raw)) {
        const tmp = join(dir, `${name}~${me.nonce}.take`);
        try {
          await writeTempFile(tmp, [content]);
          await rename(tmp, path);
          await fsyncDir(dir);
        } catch (e) {
          await unlink(tmp).catch(() => undefined); // gone once renamed; an error here would hide e
          throw fileError(e, LOCK_KEY, path, 'taking over the lock', true);
        }
        return;
      }
      // Someone else took it over (or it was released): look again.
    } finally {
      await release(dir, breakName, me.nonce);
    }
  }
  const last = await readHolder(path);
  throw lockedError(path, last?.holder, last?.holder ? await holderState(last.holder) : 'unreadable');
}

/** Removes lock file `name` if it is still held by `nonce` (a lock taken over is not ours to remove). */
async function release(dir: string, name: string, nonce: string): Promise<void> {
  const path = join(dir, name);
  const found = await readHolder(path);
  if (found?.holder?.nonce !== nonce) return;
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(e, LOCK_KEY, path, 'releasing the lock');
  }
  await fsyncDir(dir);
}

export async function lockDirectory(dir: string, me: LockHolder): Promise<WriterLock> {
  await acquire(dir, LOCK_KEY, me, 0);
  let released = false;
  return {
    holder: me,
    async release() {
      if (released) return;
      released = true;
      await release(dir, LOCK_KEY, me.nonce);
    },
  };
}
