// The CLI's entry: a plain `satrnn reproduce <name> <args…>` runs straight away (loading only
// that program's modules); everything else builds the commander program (program.ts).
import type { Command } from 'commander';
import { SatrnnError } from '../errors.js';
import { runReproduce } from './reproduce-run.js';

/**
 * The arguments of a plain `satrnn reproduce <name> <args…>` (no option anywhere), which
 * runs without building the commander program; anything else goes through commander.
 */
function plainReproduce(argv: string[]): { name: string; args: string[] } | undefined {
  const rest = argv.slice(2);
  if (rest[0] !== 'reproduce' || rest.length < 2 || rest.some((a) => a.startsWith('-'))) return undefined;
  return { name: rest[1]!, args: rest.slice(2) };
}

/** The full commander program (every command, loaded on demand). */
export async function buildProgram(): Promise<Command> {
  return (await import('./program.js')).buildProgram();
}

/** Runs the CLI; resolves to the process exit code (0 ok, 1 runtime failure, 2 bad usage or input). */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const plain = plainReproduce(argv);
  let interrupt: AbortController;
  let run: () => Promise<unknown>;
  let isCommanderError: (err: unknown) => err is { exitCode: number } = (_err): _err is { exitCode: number } => false;
  if (plain) {
    const ctl = (interrupt = new AbortController());
    run = () => runReproduce(plain.name, plain.args, { signal: ctl.signal });
  } else {
    const cli = await import('./program.js');
    interrupt = cli.interrupt;
    const program = await cli.buildProgram();
    run = () => program.parseAsync(argv);
    isCommanderError = (err): err is { exitCode: number } => err instanceof cli.CommanderError;
  }
  // First Ctrl-C: abort the running work and exit 130 cleanly; a second one exits at once.
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    await run();
    return 0;
  } catch (err) {
    if (isCommanderError(err)) {
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
