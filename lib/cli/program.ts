// The full commander program: every command with its options and help. Loaded by main.ts
// for everything but a plain `satrnn reproduce <name> <args…>`.
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../version.js';
import { registerInfo } from './info.js';
import { PROGRAMS } from '../programs/index.js';
import { registerReproduce } from './reproduce.js';

export { CommanderError };
export { interrupt } from './common.js';

export async function buildProgram(): Promise<Command> {
  // The programs' commands load their modules in parallel; they register in registry order.
  const registrars = await Promise.all(PROGRAMS.map((p) => p.loadCommand?.()));
  const program = new Command();
  program
    .name('satrnn')
    .description('Dissect byte-level sat-rnn language models neuron by neuron (exact, fast, typed).')
    .version(VERSION)
    .addOption(new Option('--debug', 'print stack traces on errors'))
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerReproduce(program);
  for (const register of registrars) register?.(program);
  registerInfo(program);
  for (const c of program.commands) c.exitOverride().showHelpAfterError('(add --help for usage)');
  return program;
}
