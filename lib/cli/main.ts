// The CLI's entry: a plain `satrnn reproduce <name> <args…>` runs straight away (loading only
// that program's modules); everything else builds the commander program (program.ts).
//
// Failure behaviour (README, "Failure behaviour"):
// - Ctrl-C (SIGINT) or SIGTERM: the first one aborts the running work through `interrupt`
//   (training finishes the checkpoint it is writing); satrnn prints one line and exits 130
//   (SIGINT) or 143 (SIGTERM), the shell's 128 + signal number. No `-o` file is written and
//   none is left half-written. A second signal exits at once.
// - stdout closed early (`satrnn … | head -c1`): satrnn stops quietly and exits 0, as Unix
//   tools do. stdout on a full device (`> /dev/full`): one line, exit 1.
// - Every exit waits for stdout to drain, so a status 0 means the whole output was delivered.
import type { Command } from 'commander';
import { SatrnnError } from '../errors.js';
import { errnoText, flushStdout, guardStdio, warn } from './output.js';
import { runReproduce } from './reproduce-run.js';

/** Exit status after each handled signal: 128 + its number, as shells report it. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
type HandledSignal = keyof typeof SIGNAL_EXIT;

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

/**
 * The library's warnings (`process.emitWarning(m, 'SatrnnWarning')`, raised where a caller
 * passed no `onWarning`) as the CLI's one-line `satrnn: warning: …`; Node's own warnings as before.
 */
let warningsRouted = false;
function routeWarnings(): void {
  if (warningsRouted) return;
  warningsRouted = true;
  const nodeListeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w: Error) => {
    if (w.name === 'SatrnnWarning') warn(w.message);
    else for (const l of nodeListeners) l(w);
  });
}

/**
 * Runs the CLI; resolves to the process exit code (0 ok, 1 runtime failure, 2 bad usage or
 * input, 130 Ctrl-C, 143 SIGTERM) once stdout has drained.
 */
export async function main(argv: string[]): Promise<number> {
  guardStdio();
  routeWarnings();
  let received: HandledSignal | undefined;
  let interrupt: AbortController | undefined;
  let finished = false;
  const onSignal = (sig: HandledSignal): void => {
    // A second signal, or one while the output drains: exit at once.
    if (received !== undefined || finished) process.exit(SIGNAL_EXIT[sig]);
    received = sig;
    interrupt?.abort();
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  try {
    let code = await runCommand(argv, (ctl) => {
      interrupt = ctl;
      if (received) ctl.abort(); // signalled while the modules loaded
    }, () => received);
    finished = true;
    const failure = await flushStdout();
    if (failure && code === 0 && failure.code !== 'EPIPE' && failure.code !== 'ERR_STREAM_DESTROYED') {
      process.stderr.write(`satrnn: cannot write to stdout: ${errnoText(failure)}\n`);
      code = 1;
    }
    return code;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
}

/** Parses and runs one command; its exit status (errors are printed here, in one line). */
async function runCommand(argv: string[], setInterrupt: (ctl: AbortController) => void, received: () => HandledSignal | undefined): Promise<number> {
  const debug = argv.includes('--debug');
  const plain = plainReproduce(argv);
  let interrupt: AbortController;
  let run: () => Promise<unknown>;
  let isCommanderError: (err: unknown) => err is { exitCode: number } = (_err): _err is { exitCode: number } => false;
  try {
    if (plain) {
      interrupt = new AbortController();
      setInterrupt(interrupt);
      const signal = interrupt.signal;
      run = () => runReproduce(plain.name, plain.args, { signal });
    } else {
      const cli = await import('./program.js');
      interrupt = cli.interrupt;
      setInterrupt(interrupt);
      const program = await cli.buildProgram();
      // `satrnn` alone (or with --debug only): one line naming the commands, not a page of help.
      if (argv.slice(2).every((a) => a === '--debug' || a === '--')) {
        process.stderr.write(`satrnn: missing command: ${program.commands.map((c) => c.name()).join(', ')} (see \`satrnn --help\`)\n`);
        return 2;
      }
      run = () => program.parseAsync(argv);
      isCommanderError = (err): err is { exitCode: number } => err instanceof cli.CommanderError;
    }
    await run();
    return 0;
  } catch (err) {
    if (isCommanderError(err)) {
      if (err.exitCode === 0) return 0; // --help, --version
      return 2; // commander already printed the message (program.ts formats it)
    }
    const sig = received();
    if (err instanceof SatrnnError && err.code === 'ABORTED' && sig !== undefined) {
      process.stderr.write(sig === 'SIGINT' ? '\nsatrnn: interrupted\n' : 'satrnn: terminated (SIGTERM)\n');
      return SIGNAL_EXIT[sig];
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
  }
}
