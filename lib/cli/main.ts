/**
 * The `allcnn` command line: parse, validate, call the library, print.
 * One file per command; this one only wires them together.
 */
import { Command, CommanderError } from 'commander';
import { InvalidArgumentError } from '../errors';
import { compareCommand } from './compare';
import { doctorCommand } from './doctor';
import { evaluateCommand } from './evaluate';
import { modelsCommand } from './models';
import { packageJson } from './package-json';
import { predictCommand } from './predict';
import { reportCommand } from './report';
import { trainCommand } from './train';
import { withDiskFix } from './util';
import { visualizeCommand } from './visualize';

export async function main(argv: string[]): Promise<void> {
  // A library warning (the ZCA cache not written, no font for figures) as one line of its own, not Node's "(node:PID) Warning" with a --trace-warnings hint.
  // Node's own handler stays when warnings are turned off (NODE_NO_WARNINGS=1, --no-warnings): it honours them.
  if (process.env.NODE_NO_WARNINGS !== '1' && !process.execArgv.includes('--no-warnings')) {
    process.removeAllListeners('warning');
    process.on('warning', (w) => process.stderr.write(`\nwarning: ${w.message}\n`));
  }
  const program = new Command('allcnn')
    .description('Striving for Simplicity: The All Convolutional Net (Springenberg et al. 2015), reproduced on LibTorch')
    .version(packageJson().version ?? 'unknown', '-V, --version', 'print the version of allcnn')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(trainCommand());
  program.addCommand(evaluateCommand());
  program.addCommand(compareCommand());
  program.addCommand(predictCommand());
  program.addCommand(modelsCommand());
  program.addCommand(reportCommand());
  program.addCommand(visualizeCommand());
  program.addCommand(doctorCommand());
  for (const extra of optionalCommands()) program.addCommand(extra);
  // addCommand() does not pass these settings down: every command exits through the catch below.
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  let ran: Command | undefined;
  program.hook('preAction', (_program, action) => { ran = action; });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return; // --help, --version
      // commander has printed the message already; exit 2 for a usage error.
      throw Object.assign(new Error(err.message.replace(/^error: /, '')), { exitCode: 2, printed: true });
    }
    // A value the library refused (a range or combination the flag's own check cannot see) is a usage error too.
    if (err instanceof InvalidArgumentError && (err as { exitCode?: number }).exitCode === undefined) throw Object.assign(inFlags(err, ran), { exitCode: 2 });
    // A full or read-only disk: the message says what was not written; this adds what to do.
    throw withDiskFix(err, undefined, ran?.options.some((o) => o.long === '--out') ?? false);
  }
}

/**
 * The library names the fields of its options ("for warmupEpochs", "cudaGraph
 * needs"); the user typed flags. Names the flags of the command that ran instead,
 * and leaves out the type of the value received.
 */
function inFlags(err: InvalidArgumentError, command: Command | undefined): InvalidArgumentError {
  const flags = new Map((command?.options ?? []).filter((o) => o.long).map((o) => [o.attributeName(), o.long!]));
  err.message = err.message.replace(/(^|for )([a-z][A-Za-z0-9]*)\b/g, (whole, before: string, field: string) => (flags.has(field) ? before + flags.get(field) : whole));
  // A flag's value was typed on the command line: "96 of type number" says no more than 96 (the API's callers keep the type).
  err.message = err.message.replace(/^(Expected .* for --[a-z][\w-]*\b.* but received .*) of type \w+$/, '$1');
  return err;
}

/** Commands that live in modules added later (reproduce, transfer). */
function optionalCommands(): Command[] {
  const out: Command[] = [];
  for (const [mod, name] of [['./reproduce', 'reproduceCommand'], ['./transfer', 'transferCommand']] as const) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      out.push(require(mod)[name]());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  return out;
}
