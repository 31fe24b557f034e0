// The layering rule (.dependency-cruiser.cjs): native ← src/{block,storage,errors} ← src/archive ←
// catalog ← fs ← protocols ← server ← src/cli. The real tree must keep it, and the check must
// really catch an upward import — shown on a scratch tree with one planted.
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../archive/harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

interface CruiseSummary {
  violations: { from: string; to: string; rule: { name: string } }[];
  totalCruised: number;
}

async function cruise(cwd: string, paths: string[]): Promise<CruiseSummary> {
  const r = await run(DEPCRUISE, ['--config', CONFIG, '--output-type', 'json', ...paths], { cwd });
  if (r.stdout.trim() === '') throw new Error(`depcruise printed nothing (exit ${r.code}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: CruiseSummary }).summary;
}

test('no module imports from a layer above its own', async (t) => {
  const summary = await cruise(ROOT, ['src', 'server', 'fs', 'protocols', 'native']);
  // A parser that silently fails to read TypeScript would cruise almost nothing and pass.
  t.true(summary.totalCruised > 100, `only ${summary.totalCruised} modules were cruised`);
  t.deepEqual(
    summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`),
    [],
  );
});

test('an upward import, even of a type only, fails the check', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'diskarc-layers-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'src', 'archive'), { recursive: true });
  await mkdir(join(dir, 'src', 'cli'), { recursive: true });
  await copyFile(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  await writeFile(
    join(dir, 'src', 'cli', 'output.ts'),
    'export interface Shown { text: string }\nexport const show = (s: Shown): string => s.text;\n',
  );
  await writeFile(
    join(dir, 'src', 'archive', 'value.ts'),
    "import { show } from '../cli/output.js';\nexport const shown = show({ text: 'x' });\n",
  );
  await writeFile(
    join(dir, 'src', 'archive', 'type.ts'),
    "import type { Shown } from '../cli/output.js';\nexport const s: Shown = { text: 'x' };\n",
  );
  await writeFile(join(dir, 'src', 'archive', 'fine.ts'), "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n");
  const summary = await cruise(dir, ['src']);
  t.deepEqual(summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort(), [
    'archive-imports-upward: src/archive/type.ts → src/cli/output.ts',
    'archive-imports-upward: src/archive/value.ts → src/cli/output.ts',
  ]);
});
