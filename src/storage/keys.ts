// Every name an archive stores, and the one rule a name must pass, in one place (docs/format.md's
// layout, docs/storage.md "Keys"). Backends call checkKey on every key they are given, so a name
// built from damaged or hostile data (a stream id, a file number) can never leave the archive.
import { DiskarcError } from '../errors.js';

export const CONFIG_KEY = 'diskarc.json';
/** The writer lock: reserved for Storage.lockWriter, refused by every other operation. */
export const LOCK_KEY = 'lock';
export const DEDUP_INDEX_KEY = 'index/dedup.idx';
export const DATA_PREFIX = 'data/';
export const HASHES_PREFIX = 'hashes/';
export const STREAMS_PREFIX = 'streams/';
export const OFFSETS_SUFFIX = '.offsets';

export type SlabFileKind = 'data' | 'hashes';
export type StreamFile = 'meta.json' | 'map' | 'map.index';
export const STREAM_FILES: readonly StreamFile[] = ['meta.json', 'map', 'map.index'];

const STREAM_ID_RE = /^[0-9a-f]{16}$/;
const SLAB_FILE_RE = /^(data|hashes)\/(\d{6})\.slab$/;
const STREAM_KEY_RE = /^streams\/([0-9a-f]{16})\/(meta\.json|map|map\.index)$/;

const MAX_KEY = 1024;
const MAX_COMPONENT = 255;
const COMPONENT_RE = /^[A-Za-z0-9._-]+$/;

/** `data/000042.slab` (six digits, as format.md §3 names the file series). */
export function slabFileKey(kind: SlabFileKind, n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n > 999999) throw new DiskarcError('EUSAGE', `slab file number ${n} is outside 0–999999`, { number: n });
  return `${kind}/${String(n).padStart(6, '0')}.slab`;
}

/** The offsets index beside a slab-structured file (format.md §3). */
export function offsetsKey(slabKey: string): string {
  return checkKey(slabKey + OFFSETS_SUFFIX);
}

export function parseSlabFileKey(key: string): { kind: SlabFileKind; number: number } | undefined {
  const m = SLAB_FILE_RE.exec(key);
  return m ? { kind: m[1] as SlabFileKind, number: Number(m[2]) } : undefined;
}

export function isStreamId(id: string): boolean {
  return STREAM_ID_RE.test(id);
}

/** `streams/<id>/<file>`; the id must be 16 lower-case hex digits (format.md §5). */
export function streamKey(id: string, file: StreamFile): string {
  if (!isStreamId(id)) throw new DiskarcError('EUSAGE', `"${id}" is not a stream id (16 hex digits)`, { stream: id });
  return `${STREAMS_PREFIX}${id}/${file}`;
}

/** The stream and file a key names; undefined for anything else under streams/ (old temp dirs). */
export function parseStreamKey(key: string): { id: string; file: StreamFile } | undefined {
  const m = STREAM_KEY_RE.exec(key);
  return m ? { id: m[1], file: m[2] as StreamFile } : undefined;
}

/** Why `key` is not a valid key, or undefined when it is (the lock key counts as valid here). */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'it is empty';
  if (key.length > MAX_KEY) return `it is longer than ${MAX_KEY} characters`;
  if (key.startsWith('/')) return 'it is absolute';
  for (const part of key.split('/')) {
    if (part === '') return 'it has an empty path component';
    if (part === '.' || part === '..') return `it has a "${part}" component`;
    if (part.length > MAX_COMPONENT) return `a component is longer than ${MAX_COMPONENT} characters`;
    if (!COMPONENT_RE.test(part)) return 'only letters, digits, ".", "_", "-" and "/" between components are allowed';
  }
  return undefined;
}

/**
 * Returns `key` when it may name an object: relative, '/'-separated components of
 * [A-Za-z0-9._-], none empty, "." or "..", at most 1024 characters, and not the lock key.
 * Anything else is EUSAGE naming the reason (it is a bug or hostile input, never user data).
 */
export function checkKey(key: string): string {
  const problem = keyProblem(key) ?? (key === LOCK_KEY ? 'it is reserved for the writer lock' : undefined);
  if (problem) throw new DiskarcError('EUSAGE', `invalid storage key ${JSON.stringify(key)}: ${problem}`, { key });
  return key;
}

/** A list prefix: '' (everything), or a key's beginning (may end in '/' or part-way through a name). */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = keyProblem(trimmed);
  if (problem) throw new DiskarcError('EUSAGE', `invalid storage prefix ${JSON.stringify(prefix)}: ${problem}`, { prefix });
  return prefix;
}
