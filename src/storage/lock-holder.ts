// Who holds an archive's writer lock, recorded so a later process can prove the holder gone
// before taking the lock over: host, boot id, pid namespace, pid and the process's start time
// (a pid alone is reused; a start time pins one process of one boot). Shared by every backend.
import { randomBytes } from 'node:crypto';
import { readFile, readlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { DiskarcError } from '../errors.js';

export interface LockHolder {
  host: string;
  /** /etc/machine-id ('' where there is none): two machines may share a host name. */
  machineId: string;
  /** /proc/sys/kernel/random/boot_id: changes at every boot. */
  bootId: string;
  /** /proc/self/ns/pid: pids are only comparable inside one pid namespace. */
  pidNamespace: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot at which the process started. */
  startTime: string;
  /** Random: names this one acquisition (takeovers are keyed on it). */
  nonce: string;
  /** ISO-8601, for people reading the lock. */
  since: string;
}

/** 'alive': the holder runs. 'gone': provably not (rebooted, no such process, pid reused).
 * 'unknown': another host or pid namespace — nothing here can tell. */
export type HolderState = 'alive' | 'gone' | 'unknown';

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

async function machineId(): Promise<string> {
  return (await readFile('/etc/machine-id', 'utf8').catch(() => '')).trim();
}

/** '' when it cannot be read (a sandbox hiding /proc/self/ns): pids are then never compared. */
async function pidNamespace(): Promise<string> {
  return readlink('/proc/self/ns/pid').catch(() => '');
}

/** The start time of process `pid`, or undefined when there is no such process. */
async function startTimeOf(pid: number | 'self'): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields after the
  // last ')' start at field 3, so field 22 is the 20th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

/** This process, as a lock holder (a fresh nonce each call). */
export async function currentHolder(): Promise<LockHolder> {
  const startTime = await startTimeOf('self');
  if (startTime === undefined) throw new DiskarcError('EIO', '/proc/self/stat is unreadable: cannot tell this process\'s start time for the lock');
  return {
    host: hostname(),
    machineId: await machineId(),
    bootId: await bootId(),
    pidNamespace: await pidNamespace(),
    pid: process.pid,
    startTime,
    nonce: randomBytes(16).toString('hex'),
    since: new Date().toISOString(),
  };
}

export async function holderState(h: LockHolder): Promise<HolderState> {
  if (h.host !== hostname() || h.machineId !== (await machineId())) return 'unknown';
  if (h.bootId !== (await bootId())) return 'gone';
  const ns = await pidNamespace();
  if (ns === '' || h.pidNamespace !== ns) return 'unknown';
  const start = await startTimeOf(h.pid);
  return start === h.startTime ? 'alive' : 'gone';
}

const FIELDS: Array<[keyof LockHolder, 'string' | 'number']> = [
  ['host', 'string'], ['machineId', 'string'], ['bootId', 'string'], ['pidNamespace', 'string'], ['pid', 'number'],
  ['startTime', 'string'], ['nonce', 'string'], ['since', 'string'],
];

export function encodeHolder(h: LockHolder): Buffer {
  return Buffer.from(JSON.stringify(h) + '\n');
}

/** The holder a lock records, or undefined when the bytes are not one (an older diskarc's bare pid). */
export function decodeHolder(raw: Uint8Array): LockHolder | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  return FIELDS.every(([k, t]) => typeof o[k] === t) ? (o as unknown as LockHolder) : undefined;
}

/** The ELOCKED error for a lock that cannot be taken: says who holds it and what to do. */
export function lockedError(where: string, holder: LockHolder | undefined, state: HolderState | 'unreadable'): DiskarcError {
  const details = { lock: where, ...(holder ? { holder } : {}) };
  if (state === 'alive' && holder) {
    return new DiskarcError('ELOCKED', `the archive is being written by process ${holder.pid} on ${holder.host} (since ${holder.since}); wait for it to finish`, details);
  }
  const who = holder ? `process ${holder.pid} on ${holder.host} (since ${holder.since})` : 'a holder this diskarc cannot identify';
  return new DiskarcError('ELOCKED', `the archive is locked by ${who}, which cannot be checked from here; if no diskarc is writing this archive, remove ${where} and run the command again`, details);
}
