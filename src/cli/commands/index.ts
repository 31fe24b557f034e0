// Every CLI command, registered in the order `diskarc --help` lists them.
// Each command module exports `register(program)`; add new ones here.
import type { Command } from 'commander';

type Register = (program: Command) => void;

export const commands: Array<() => Promise<{ register: Register }>> = [
  () => import('./create.js'),
  () => import('./pack.js'),
  () => import('./unpack.js'),
  () => import('./verify.js'),
  () => import('./list.js'),
  () => import('./info.js'),
  () => import('./dump-stream.js'),
  () => import('./partitions.js'),
  () => import('./ls.js'),
  () => import('./cat.js'),
  () => import('./extract.js'),
  () => import('./serve.js'),
  () => import('./mount.js'),
  () => import('./umount.js'),
];
