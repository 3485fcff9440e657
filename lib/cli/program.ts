// The full commander program: every command with its options and help. Loaded by main.ts
// for everything but a plain `satrnn reproduce <name> <args…>`.
//
// Errors, whoever finds them, are one line on stderr starting `satrnn: `: commander's own
// (unknown option or command, a bad option value) end with where to find the usage, e.g.
// "satrnn: unknown option '--frobnicate' (see `satrnn knockout --help`)".
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_CORPUS, DEFAULT_MODEL } from '../assets.js';
import { SatrnnError } from '../errors.js';
import { VERSION } from '../version.js';
import { expandModelPaths } from './common.js';
import { registerInfo } from './info.js';
import { checkOutput } from './output.js';
import { COMMANDS, PROGRAMS } from '../programs/index.js';
import { registerReproduce } from './reproduce.js';
import { reproduceInputs } from './reproduce-run.js';

export { CommanderError };
export { interrupt } from './common.js';

/** Commander's error text ("error: …", possibly with a "(Did you mean …?)" line) as one satrnn line. */
function oneLine(cmd: Command): (str: string, write: (s: string) => void) => void {
  const usage = cmd.parent ? `satrnn ${cmd.name()} --help` : 'satrnn --help';
  return (str, write) => write(`satrnn: ${str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (see \`${usage}\`)\n`);
}

/** An option parser that throws SatrnnError('BAD_OPTION') reports like commander's own: naming the option. */
function asInvalidArgument(opt: Option): void {
  const parse = opt.parseArg;
  if (!parse) return;
  opt.parseArg = (<T>(value: string, previous: T): T => {
    try {
      return parse(value, previous);
    } catch (err) {
      if (err instanceof SatrnnError && err.code === 'BAD_OPTION') throw new InvalidArgumentError(err.message);
      throw err;
    }
  }) as Option['parseArg'];
}

/**
 * The files a command will read, from its parsed options and arguments: `-o` may not be one
 * of them. The embedded model and corpus are included (they are the default inputs).
 */
function commandInputs(cmd: Command): string[] {
  const o = cmd.opts<{ model?: string | string[]; data?: string; resume?: string }>();
  const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const models = list(o.model);
  let expanded: string[];
  try {
    expanded = expandModelPaths(models);
  } catch {
    expanded = models; // the command reports a bad folder itself
  }
  // A sweep's --resume file is read whole before -o replaces it, so it may be the -o file.
  const resumeIsInput = cmd.name() !== 'sweep' && cmd.name() !== 'prune';
  const inputs = [...expanded, ...list(o.data), ...(resumeIsInput ? list(o.resume) : []), DEFAULT_MODEL, DEFAULT_CORPUS];
  if (cmd.name() === 'reproduce') {
    const [name, args] = cmd.processedArgs as [string | undefined, string[] | undefined];
    if (name !== undefined) inputs.push(...reproduceInputs(name, args ?? []));
  }
  return inputs;
}

export async function buildProgram(): Promise<Command> {
  // The programs' commands load their modules in parallel; they register in registry order.
  const registrars = await Promise.all([...PROGRAMS, ...COMMANDS].map((p) => p.loadCommand?.()));
  const program = new Command();
  program
    .name('satrnn')
    .description('Dissect byte-level sat-rnn language models neuron by neuron (exact, fast, typed).')
    .version(VERSION)
    .addOption(new Option('--debug', 'print stack traces on errors'))
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: oneLine(program) });
  registerReproduce(program);
  for (const register of registrars) register?.(program);
  registerInfo(program);
  for (const c of program.commands) {
    c.exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: oneLine(c) });
    for (const opt of c.options) asInvalidArgument(opt);
  }
  // `-o` is checked before any work: refused if it names an input, a folder or a missing
  // folder, failed if its folder cannot be written (the write itself rechecks).
  program.hook('preAction', (_program, action) => {
    const out = action.opts<{ output?: unknown }>().output;
    if (typeof out === 'string') checkOutput(out, commandInputs(action));
  });
  return program;
}
