// Every class of usage error, as a user meets it (real child processes): exit code 2, a message
// on stderr, and — with --json — one {"error": {"code": "EUSAGE", …}} object on stdout, whether
// commander or a command's own validation found the mistake. Bad values change nothing on disk.
import test from 'ava';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskarc } from '../archive/harness.js';

let tmp = '';
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'diskarc-usage-'));
  await writeFile(join(tmp, 'img'), Buffer.alloc(4096));
});
test.after.always(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface ErrorJson {
  error: { code: string; message: string; reason?: string; option?: string };
}

/** Runs `args` with --json and asserts the usage-error contract; returns the JSON error. */
async function usageError(
  t: import('ava').ExecutionContext,
  args: string[],
  message: RegExp,
  alsoPlain = false,
): Promise<ErrorJson['error']> {
  // --json right after the command, so a trailing option that lacks its value stays without one.
  const r = await diskarc(args[0]!, '--json', ...args.slice(1));
  t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  t.regex(r.stderr, message, args.join(' '));
  const lines = r.stdout.trim().split('\n');
  t.is(lines.length, 1, `${args.join(' ')}: one JSON object on stdout, got ${JSON.stringify(r.stdout)}`);
  const parsed = JSON.parse(lines[0]!) as ErrorJson;
  t.is(parsed.error.code, 'EUSAGE', args.join(' '));
  t.regex(parsed.error.message, message, args.join(' '));
  if (alsoPlain) {
    // Without --json stdout stays empty: the message is on stderr only.
    const plain = await diskarc(...args);
    t.is(plain.code, 2);
    t.is(plain.stdout, '');
  }
  return parsed.error;
}

test(
  'create: bad --block-size, --compression level, --slab-size and --slab-file-limit are usage errors, ' + 'and nothing is created',
  async (t) => {
    const dir = join(tmp, 'never');
    const cases: Array<[string[], RegExp, string]> = [
      [['--block-size', '3000'], /--block-size 3000: must be a power of two/, '--block-size'],
      [['--block-size', '512'], /--block-size 512: must be a power of two between 1 KiB and 1 MiB/, '--block-size'],
      [['--compression', 'zstd:99'], /--compression zstd:99: level must be 1\.\.19/, '--compression'],
      [['--compression', 'zstd:0'], /--compression zstd:0: level must be 1\.\.19/, '--compression'],
      [['--slab-size', '100'], /--slab-size 100: must be at least 16 blocks/, '--slab-size'],
      [['--slab-size', '1GiB'], /--slab-size 1073741824: .*at most 64 MiB/, '--slab-size'],
      [['--slab-size', '1MiB', '--slab-file-limit', '64k'], /--slab-file-limit 65536: must be at least the slab size/, '--slab-file-limit'],
      [
        ['--block-size', '1MiB'],
        /--slab-size \(default 262144\): must be at least 16 blocks \(16777216 bytes at block size 1048576\)/,
        '--slab-size',
      ],
    ];
    for (const [i, [opts, message, option]] of cases.entries()) {
      const e = await usageError(t, ['create', '-a', dir, ...opts], message, i === 0);
      t.is(e.option, option);
    }
    await t.throwsAsync(readdir(dir), { code: 'ENOENT' });
    // A good value still creates the archive.
    const good = await diskarc(
      'create',
      '-a',
      dir,
      '--block-size',
      '8k',
      '--slab-size',
      '512KiB',
      '--slab-file-limit',
      '1MiB',
      '--compression',
      'zstd:19',
      '--json',
    );
    t.is(good.code, 0, good.stderr);
    t.like(JSON.parse(good.stdout), {
      blockSize: 8192,
      slabSize: 512 * 1024,
      slabFileLimit: 1024 * 1024,
      compression: { algorithm: 'zstd', level: 19 },
    });
  },
);

test(
  'commander-detected mistakes give a JSON error too: unknown option, missing value, missing required option, bad value, unknown ' +
    'command, extra argument, missing argument',
  async (t) => {
    const cases: Array<[string[], RegExp, string]> = [
      [['list', '-a', tmp, '--bogus'], /unknown option '--bogus'/, 'unknownOption'],
      [['dump-stream', '-a', tmp, '-s'], /option '-s, --stream <stream>' argument missing/, 'optionMissingArgument'],
      [['info', '-a', tmp], /required option '-s, --stream <stream>' not specified/, 'missingMandatoryOptionValue'],
      [['create', '-a', join(tmp, 'x'), '--block-size', 'lots'], /"lots" is not a size/, 'invalidArgument'],
      [['create', '-a', join(tmp, 'x'), '--data-cache-size-mib', '0'], /"0" is not a positive integer/, 'invalidArgument'],
      [['frobnicate'], /unknown command 'frobnicate'/, 'unknownCommand'],
      [['list', '-a', tmp, 'extra'], /too many arguments for 'list'/, 'excessArguments'],
      [['cat', '--image', join(tmp, 'img')], /missing required argument 'path'/, 'missingArgument'],
    ];
    for (const [i, [args, message, reason]] of cases.entries()) t.is((await usageError(t, args, message, i === 0)).reason, reason);
  },
);

test("commands' own argument checks are usage errors as well", async (t) => {
  await usageError(t, ['ls', '--image', join(tmp, 'img'), '-a', tmp, '-s', 'x'], /either --image FILE or -a DIR -s STREAM, not both/);
  await usageError(t, ['ls'], /name a source/);
  await usageError(t, ['partitions', '--image', `${join(tmp, 'img')}:p0`], /partition numbers start at 1/);
});

test('no command at all is a usage error; asked-for help and --version succeed', async (t) => {
  const none = await diskarc();
  t.is(none.code, 2);
  t.regex(none.stderr, /Usage: diskarc/);
  for (const args of [['--help'], ['help', 'create'], ['create', '--help'], ['--version']])
    t.is((await diskarc(...args)).code, 0, args.join(' '));
});
