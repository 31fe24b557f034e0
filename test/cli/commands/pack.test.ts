// `diskarc pack`'s report: the speed line is the pack rate over the pack phase alone, the verify
// pass has its own time and rate, and --json carries the same figures.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskarc, diskarcJson, tempDir } from '../../archive/harness.js';

interface Timed {
  size: number;
  packSeconds: number;
  mibPerSecond: number;
  verified: boolean;
  verifySeconds: number;
  verifyMiBPerSecond: number;
  seconds: number;
}

test('pack rate and verify time are reported separately (human and --json)', async (t) => {
  const dir = await tempDir(t);
  const archive = join(dir, 'arc');
  await diskarcJson('create', '-a', archive);
  const input = join(dir, 'input');
  await writeFile(input, randomBytes(40 << 20));

  const r = await diskarcJson<Timed>('pack', '-a', archive, input);
  const mib = r.size / 1048576;
  t.true(r.verified);
  t.true(
    Math.abs(r.mibPerSecond - mib / r.packSeconds) / r.mibPerSecond < 0.01,
    `pack rate ${r.mibPerSecond} is size / packSeconds (${mib / r.packSeconds})`,
  );
  t.true(r.verifySeconds > 0);
  t.true(Math.abs(r.verifyMiBPerSecond - mib / r.verifySeconds) / r.verifyMiBPerSecond < 0.05, 'verify rate is size / verifySeconds');
  t.true(r.seconds >= r.packSeconds + r.verifySeconds - 0.002, 'the whole command took at least both phases');

  const human = await diskarc('pack', '-a', archive, input, '--name', 'again');
  t.is(human.code, 0, human.stderr);
  const speed = /^speed: +([\d.]+) MiB\/s \(([\d.]+) s\)$/m.exec(human.stdout);
  t.truthy(speed, human.stdout);
  t.true(
    Math.abs(Number(speed![1]) - mib / Number(speed![2])) / Number(speed![1]) < 0.02,
    'the speed line divides the size by its own time',
  );
  t.regex(human.stdout, /^verify: +[\d.]+ s \([\d.]+ MiB\/s, compared with the input\)$/m);

  const skipped = await diskarc('pack', '-a', archive, input, '--name', 'skip', '--no-verify');
  t.regex(skipped.stdout, /^verify: +skipped \(--no-verify\)$/m);
  const j = await diskarcJson<Timed>('pack', '-a', archive, input, '--name', 'skip2', '--no-verify');
  t.false(j.verified);
  t.is(j.verifySeconds, 0);
});
