// A child process for the lock race in contract.test.ts: opens the local storage at argv[2],
// says "ready", waits for a line on stdin, then tries the writer lock once and prints what came
// of it as JSON. A winner holds the lock until its stdin ends, then releases it.
import { once } from 'node:events';
import { LocalStorage } from '../../src/storage/local.js';
import { isDiskarcError } from '../../src/errors.js';

const storage = await LocalStorage.open(process.argv[2]);
process.stdout.write('ready\n');
await once(process.stdin, 'data');
try {
  const lock = await storage.lockWriter();
  process.stdout.write(JSON.stringify({ pid: process.pid, got: true, nonce: lock.holder.nonce }) + '\n');
  process.stdin.resume();
  await once(process.stdin, 'end');
  await lock.release();
} catch (e) {
  if (!isDiskarcError(e)) throw e;
  process.stdout.write(JSON.stringify({ pid: process.pid, got: false, code: e.code, holder: (e.details.holder as { pid?: number } | undefined)?.pid }) + '\n');
  process.stdin.destroy();
}
