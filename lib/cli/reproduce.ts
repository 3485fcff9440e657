import { Command, Option } from 'commander';
import { PROGRAMS, reproduce, usage } from '../programs/index.js';
import { backendOptions, emit, interrupt, parseIntOption, warn, type BackendFlags } from './common.js';
import { progressBar } from './progress.js';

interface ReproduceFlags extends BackendFlags {
  list?: boolean;
  output?: string;
}

export function registerReproduce(program: Command): void {
  program
    .command('reproduce')
    .description('print exactly what an original research program printed (byte for byte)')
    .argument('[program]', 'original program name (see --list)')
    .argument('[args...]', "the original's positional arguments, e.g. <data> <model>")
    .option('--list', 'list the programs that can be reproduced')
    .addOption(new Option('--backend <name>', 'native or js (default: native when it loads)'))
    .addOption(new Option('--isa <isa>', 'native code path: avx2 or scalar (default: best available)'))
    .addOption(new Option('--threads <n>', 'native worker threads').argParser(parseIntOption(1, 256)))
    .option('-o, --output <file>', 'write the output to a file instead of stdout')
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
