// The formatter and linter (biome.jsonc) are part of the suite: `biome ci` must pass over the tree, and no
// TypeScript line that biome checks may pass its lineWidth — biome reflows code but leaves a long string or
// template whole, so the limit itself is checked here. Each check is shown failing on a scratch tree.
import test from 'ava';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../archive/harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome');
// Never source: dependencies, build output, git's own files.
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'build', '.git']);

interface BiomeConfig {
  files: { includes: string[] };
  formatter: { lineWidth: number };
}

async function biomeConfig(root: string): Promise<BiomeConfig> {
  // biome.jsonc allows comments; it only has whole-line ones (a URL's '//' must survive).
  const text = await readFile(join(root, 'biome.jsonc'), 'utf8');
  const json = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('//'))
    .join('\n');
  return JSON.parse(json) as BiomeConfig;
}

/** biome's include globs: `**` any depth, `*` within one name, a bare path that folder and all below it. */
function globRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  const body = escaped
    .replace(/\*\*\//g, '\u0000')
    .replace(/\*\*/g, '\u0001')
    .replace(/\*/g, '[^/]*')
    .replace(/\u0000/g, '(?:.*/)?')
    .replace(/\u0001/g, '.*');
  return new RegExp(/[*?]/.test(glob) ? `^${body}$` : `^${body}(?:/.*)?$`);
}

function checkedByBiome(config: BiomeConfig): (path: string) => boolean {
  const includes = config.files.includes.filter((g) => !g.startsWith('!')).map(globRegExp);
  const excludes = config.files.includes.filter((g) => g.startsWith('!')).map((g) => globRegExp(g.slice(1)));
  return (path) => includes.some((r) => r.test(path)) && !excludes.some((r) => r.test(path));
}

async function* files(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIPPED_DIRS.has(e.name)) yield* files(join(dir, e.name));
    } else if (e.isFile()) yield join(dir, e.name);
  }
}

/** Every line over the limit in the TypeScript files biome checks under root, as `path:line (N columns)`. */
async function overlongLines(root: string): Promise<{ checked: number; found: string[] }> {
  const config = await biomeConfig(root);
  const checked = checkedByBiome(config);
  const found: string[] = [];
  let count = 0;
  for await (const file of files(root)) {
    const path = relative(root, file);
    if (!path.endsWith('.ts') || !checked(path)) continue;
    count++;
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      // Columns are characters, as the formatter counts them, not UTF-8 bytes ('–', '×' and '≥' are common here).
      const columns = [...line].length;
      if (columns > config.formatter.lineWidth) found.push(`${path}:${i + 1} (${columns} columns)`);
    });
  }
  return { checked: count, found };
}

function biomeCi(cwd: string, paths: string[]) {
  return run(BIOME, ['ci', '--colors=off', '--max-diagnostics=50', ...paths], { cwd });
}

test('biome ci passes over the tree: it is formatted as biome.jsonc says and has no lint finding', async (t) => {
  const r = await biomeCi(ROOT, ['.']);
  t.is(r.code, 0, r.stdout + r.stderr);
});

test('no TypeScript line that biome checks is longer than its lineWidth', async (t) => {
  const { checked, found } = await overlongLines(ROOT);
  // A file walk or glob that silently matched nothing would pass.
  t.true(checked > 150, `only ${checked} files were checked`);
  t.deepEqual(found, []);
});

test('a lint error, a misformatted file and an overlong string each fail the check; excluded paths do not', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-lint-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'src', 'archive'), { recursive: true });
  await copyFile(join(ROOT, 'biome.jsonc'), join(dir, 'biome.jsonc'));
  const scratch = (...paths: string[]) => biomeCi(dir, ['--vcs-enabled=false', ...paths]);
  const width = (await biomeConfig(ROOT)).formatter.lineWidth;
  const long = `export const message =\n  '${'word '.repeat(Math.ceil(width / 5))}';\n`;
  await writeFile(join(dir, 'src', 'fine.ts'), 'export const one = 1;\n');
  await writeFile(join(dir, 'src', 'lint.ts'), 'export function isOne(a: number): boolean {\n  return a == 1;\n}\n');
  await writeFile(join(dir, 'src', 'format.ts'), 'export const one   =  1\n');
  await writeFile(join(dir, 'src', 'long.ts'), long);
  await writeFile(join(dir, 'src', 'archive', 'long.ts'), long);

  t.is((await scratch('src/fine.ts')).code, 0);
  const lint = await scratch('src/lint.ts');
  t.not(lint.code, 0);
  t.regex(lint.stdout + lint.stderr, /noDoubleEquals/);
  const format = await scratch('src/format.ts');
  t.not(format.code, 0);
  t.regex(format.stdout + format.stderr, /File content differs from formatting output/);
  // biome itself lets the unbreakable string through: that is why the limit has its own check.
  t.is((await scratch('src/long.ts')).code, 0);
  const { found } = await overlongLines(dir);
  t.deepEqual(found, [`src/long.ts:2 (${long.split('\n')[1]!.length} columns)`]);
});
