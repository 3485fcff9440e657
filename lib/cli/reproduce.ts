import { Command } from 'commander';
import { SatrnnError } from '../errors.js';
import { PROGRAMS, usage } from '../programs/index.js';
import { addBackendOptions, backendOptions, emit, interrupt, type BackendFlags } from './common.js';
import { runReproduce } from './reproduce-run.js';

interface ReproduceFlags extends BackendFlags {
  list?: boolean;
  output?: string;
}

export function registerReproduce(program: Command): void {
  const cmd = program
    .command('reproduce')
    .description('print exactly what an original research program printed (byte for byte)')
    .argument('[program]', 'original program name (see --list)')
    .argument('[args...]', "the original's positional arguments, e.g. <data> <model>")
    .option('--list', 'list the programs that can be reproduced')
    .option('-o, --output <file>', 'write the output to a file instead of stdout');
  addBackendOptions(cmd)
    .addHelpText(
      'after',
      `\nPrograms:\n${PROGRAMS.map((p) => `  ${usage(p)}\n      ${p.summary}`).join('\n')}\n`,
    )
    .action(async (name: string | undefined, args: string[], flags: ReproduceFlags) => {
      if (flags.list || name === undefined) {
        if (!flags.list) throw new SatrnnError('BAD_OPTION', 'missing program name; see `satrnn reproduce --list`');
        emit(PROGRAMS.map((p) => `${usage(p).padEnd(52)} ${p.summary}\n`).join(''), flags.output);
        return;
      }
      await runReproduce(name, args, {
        backend: backendOptions(flags),
        ...(flags.output !== undefined ? { output: flags.output } : {}),
        signal: interrupt.signal,
      });
    });
}
