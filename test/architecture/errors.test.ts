// Errors are typed: the code below the CLI throws DiskarcError (a code a user and a presenter can
// act on, src/errors.ts), never a bare Error/RangeError/TypeError — those would reach the user as
// "internal error" and every protocol would have to guess what they mean.
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CORE = ['src', 'server', 'fs', 'protocols', 'native'];
const BARE = /\bnew (Error|RangeError|TypeError)\(/g;

async function* sources(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* sources(path);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield path;
  }
}

async function bareErrors(root: string, folders: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const folder of folders) {
    for await (const path of sources(join(root, folder))) {
      const lines = (await readFile(path, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (BARE.test(line) && !line.trimStart().startsWith('//')) found.push(`${relative(root, path)}:${i + 1}: ${line.trim()}`);
        BARE.lastIndex = 0;
      });
    }
  }
  return found;
}

test('core code throws typed errors only', async (t) => {
  // The demo's own child-process failure is reported by the demo, not by a presenter.
  const found = (await bareErrors(ROOT, CORE)).filter((l) => !l.startsWith('src/demo.ts:'));
  t.deepEqual(found, []);
});
