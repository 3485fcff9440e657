import { Command, CommanderError, Option } from 'commander';
import { SatrnnError } from '../errors.js';
import { VERSION } from '../version.js';
import { interrupt } from './common.js';
import { registerInfo } from './info.js';
import { PROGRAMS } from '../programs/index.js';
import { registerReproduce } from './reproduce.js';

export function buildProgram(): Command {
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
  for (const p of PROGRAMS) p.command?.(program);
  registerInfo(program);
  for (const c of program.commands) c.exitOverride().showHelpAfterError('(add --help for usage)');
  return program;
}

/** Runs the CLI; resolves to the process exit code (0 ok, 1 runtime failure, 2 bad usage or input). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes('--debug');
  // First Ctrl-C: abort the running work and exit 130 cleanly; a second one exits at once.
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      return 2; // commander already printed the message
    }
    if (err instanceof SatrnnError && err.code === 'ABORTED' && interrupt.signal.aborted) {
      process.stderr.write('\nsatrnn: interrupted\n');
      return 130;
    }
    if (err instanceof SatrnnError) {
      process.stderr.write(`satrnn: ${err.message}\n`);
      if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
      return err.exitCode;
    }
    process.stderr.write(`satrnn: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    else process.stderr.write('satrnn: (run again with --debug for a stack trace, and please report it)\n');
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
