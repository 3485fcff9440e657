import { Command } from 'commander';
import { PROGRAMS, reproduce, usage } from '../programs/index.js';
import { addBackendOptions, backendOptions, emit, interrupt, warn, type BackendFlags } from './common.js';
import { progressBar } from './progress.js';

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
    .action(async (name: string | undefined, args: string[], flags: ReproduceFlags, cmd: Command) => {
      if (flags.list || name === undefined) {
        if (!flags.list) cmd.error('error: missing program name; see `satrnn reproduce --list`', { exitCode: 2 });
        emit(PROGRAMS.map((p) => `${usage(p).padEnd(52)} ${p.summary}\n`).join(''));
        return;
      }
      const bar = progressBar(name);
      try {
        const text = await reproduce(name, args, {
          backend: backendOptions(flags),
          onWarning: warn,
          onProgress: bar.update,
          signal: interrupt.signal,
        });
        bar.stop();
        emit(text, flags.output);
      } finally {
        bar.stop();
      }
    });
}
