/**
 * The `allcnn` command line: parse, validate, call the library, print.
 * One file per command; this one only wires them together.
 */
import { Command, CommanderError } from 'commander';
import { compareCommand } from './compare';
import { doctorCommand } from './doctor';
import { evaluateCommand } from './evaluate';
import { modelsCommand } from './models';
import { predictCommand } from './predict';
import { reportCommand } from './report';
import { trainCommand } from './train';
import { visualizeCommand } from './visualize';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('allcnn')
    .description('Striving for Simplicity: The All Convolutional Net (Springenberg et al. 2015), reproduced on LibTorch')
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
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return; // --help, --version
      // commander has printed the message already; exit 2 for a usage error.
      throw Object.assign(new Error(err.message.replace(/^error: /, '')), { exitCode: 2, printed: true });
    }
    throw err;
  }
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
