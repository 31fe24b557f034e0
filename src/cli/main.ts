#!/usr/bin/env node
// diskarc's command-line entry point: builds the commander program from the command modules,
// runs it, and turns any error into its documented exit code.
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { reportError } from './output.js';
import { ExitCode } from '../errors.js';
import { toolVersion } from '../version.js';

async function main(argv: string[]): Promise<number> {
  const program = new Command('diskarc')
    .description(
      'Deduplicating disk-image archiver: packs, restores and verifies disks; serves archived disks read-only over NBD, a ' +
        'range proxy (ImDisk / Arsenal Image Mounter), WebDAV and FUSE; reads the files of their NTFS partitions',
    )
    .version(toolVersion)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const wanted = commands.filter(([name]) => name === argv[2]);
  for (const [, load] of wanted.length ? wanted : commands) (await load()).register(program);
  const wantsJson = argv.includes('--json');
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Asked-for help and --version succeed; help shown because no command was given is a usage error.
      const shown = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help';
      if (shown && e.exitCode === 0) return ExitCode.OK;
      // commander has already printed its message on stderr; --json still owes stdout an object.
      if (wantsJson)
        process.stdout.write(
          JSON.stringify({
            error: {
              code: 'EUSAGE',
              message: shown ? 'no command given (see diskarc --help)' : e.message.replace(/^error: /, ''),
              reason: e.code.replace(/^commander\./, ''),
            },
          }) + '\n',
        );
      return ExitCode.USAGE;
    }
    return reportError(e, { json: wantsJson, verbose });
  }
}

// A closed pipe (`diskarc dump-stream | head`) is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

// If the event loop empties while the command is still awaiting something, Node would exit
// with code 13 and no message; say what happened instead (it is a bug worth reporting).
let settled = false;
process.on('beforeExit', () => {
  if (settled) return;
  process.stderr.write(
    'diskarc: internal error: the command stopped while still waiting for work that can never finish; please report it (with ' +
      '--verbose output)\n',
  );
  process.exitCode = ExitCode.INTERNAL;
});

process.exitCode = await main(process.argv);
settled = true;
