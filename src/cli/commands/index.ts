// Every CLI command, in the order `diskarc --help` lists them. Each module exports
// `register(program)`. Keyed by command name so a run loads only the command it needs
// (mount pulls in FUSE, serve the protocol servers); --help and unknown names load them all.
import type { Command } from 'commander';

type Register = (program: Command) => void;
type Loader = () => Promise<{ register: Register }>;

export const commands: ReadonlyArray<readonly [name: string, load: Loader]> = [
  ['create', () => import('./create.js')],
  ['pack', () => import('./pack.js')],
  ['unpack', () => import('./unpack.js')],
  ['verify', () => import('./verify.js')],
  ['check', () => import('./check.js')],
  ['list', () => import('./list.js')],
  ['info', () => import('./info.js')],
  ['dump-stream', () => import('./dump-stream.js')],
  ['partitions', () => import('./partitions.js')],
  ['ls', () => import('./ls.js')],
  ['cat', () => import('./cat.js')],
  ['extract', () => import('./extract.js')],
  ['serve', () => import('./serve.js')],
  ['mount', () => import('./mount.js')],
  ['umount', () => import('./umount.js')],
];
