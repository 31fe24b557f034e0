// A reader process for the concurrency tests: reads COUNT random ranges (4 KiB–256 KiB) of FILE
// and of ORIGINAL and exits 1 at the first difference. Run as several child processes at once.
import { open } from 'node:fs/promises';

const [file, original, countArg, seedArg] = process.argv.slice(2);
const count = Number(countArg);
let x = Number(seedArg) >>> 0 || 1;
const rand = () => {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return x / 0x100000000;
};

const a = await open(file, 'r');
const b = await open(original, 'r');
const size = (await b.stat()).size;
for (let i = 0; i < count; i++) {
  const len = Math.min(size, 4096 + Math.floor(rand() * 256 * 1024));
  const pos = Math.floor(rand() * (size - len + 1));
  const ba = Buffer.alloc(len);
  const bb = Buffer.alloc(len);
  const ra = await a.read(ba, 0, len, pos);
  const rb = await b.read(bb, 0, len, pos);
  if (ra.bytesRead !== rb.bytesRead || !ba.equals(bb)) {
    process.stderr.write(`mismatch at ${pos}+${len}: got ${ra.bytesRead} bytes\n`);
    process.exit(1);
  }
}
await a.close();
await b.close();
process.stdout.write(`${count} reads ok\n`);
