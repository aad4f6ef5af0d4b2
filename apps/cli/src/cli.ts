import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { backendsCommand } from './commands/backends';
import { benchCommand } from './commands/bench';
import { convertCommands } from './commands/convert';
import { evalCommand } from './commands/eval';
import { infoCommand } from './commands/info';
import { predictCommand } from './commands/predict';
import { serveCommand } from './commands/serve';
import { trainCommand } from './commands/train';
import { applyConfigFile } from './config-file';
import { reportError } from './output';

function version(): string {
  try {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The `pyramid` program; `run` parses argv and returns the exit status. */
export function createProgram(): Command {
  const program = new Command('pyramid')
    .description('PyramidNet-TS: train, evaluate, predict, inspect and benchmark Deep Pyramidal Residual Networks')
    .version(version())
    .option('--verbose', 'print stack traces of errors')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  trainCommand(program);
  evalCommand(program);
  predictCommand(program);
  infoCommand(program);
  convertCommands(program);
  backendsCommand(program);
  benchCommand(program);
  serveCommand(program);
  for (const command of program.commands) {
    command.exitOverride();
    if (['train', 'eval', 'info', 'bench'].includes(command.name())) {
      command.option('--config <file>', 'read options from a JSON or YAML file (flags given here win)');
    }
  }
  program.hook('preAction', (_, action) => {
    const file = action.opts().config as string | undefined;
    if (file) applyConfigFile(action, file);
  });
  return program;
}

export async function run(argv: string[]): Promise<number> {
  const program = createProgram();
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed help, a version or its own one-line error.
      return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
    }
    return reportError(error, verbose);
  }
}
