// The program registry: every original program (and its modern command) in one list, read
// by `satrnn reproduce --list`, the CLI and the public API.
import { SatrnnError } from '../errors.js';
import { registerKnockout } from './q3_neurons/cli.js';
import { reproduceQ3 } from './q3_neurons/reproduce.js';
import { reproduceQ5 } from './q5_redux/reproduce.js';
import { registerTrain } from './sat_train/cli.js';
import { reproduceSatTrain } from './sat_train/reproduce.js';
import type { Program, ReproduceContext } from './types.js';

export const PROGRAMS: readonly Program[] = [
  {
    name: 'q3_neurons',
    summary: 'readout knockout, cumulative knockout, keep-top-k, sign-only, top-10 decode',
    reproduce: reproduceQ3,
    command: registerKnockout,
  },
  {
    name: 'q5_redux',
    summary: 'prune Wh / Wx by magnitude, keep the top-k readout neurons, |Wh| distribution, parameter count',
    reproduce: reproduceQ5,
  },
  {
    name: 'sat_train',
    summary: 'train a sat-rnn (SGD, truncated BPTT, clipping, cosine lr); writes <prefix>_epoch<e>/_best/_final.bin',
    reproduce: reproduceSatTrain,
    command: registerTrain,
  },
];

export function findProgram(name: string): Program {
  const p = PROGRAMS.find((x) => x.name === name);
  if (!p)
    throw new SatrnnError(
      'BAD_OPTION',
      `unknown program '${name}'; available: ${PROGRAMS.map((x) => x.name).join(', ')} (see \`satrnn reproduce --list\`)`,
    );
  return p;
}

/** `name <a> <b> [c]` */
export function usage(p: Program): string {
  const r = p.reproduce;
  return [p.name, ...r.args.map((a) => `<${a}>`), ...(r.optional ?? []).map((a) => `[${a}]`)].join(' ');
}

/** Runs an original program by name with its positional arguments; returns its stdout. */
export async function reproduce(name: string, args: string[], ctx: ReproduceContext = {}): Promise<string> {
  const p = findProgram(name);
  const r = p.reproduce;
  const max = r.args.length + (r.optional?.length ?? 0);
  if (args.length < r.args.length) throw new SatrnnError('BAD_OPTION', `Usage: satrnn reproduce ${usage(p)}`);
  if (args.length > max)
    throw new SatrnnError('BAD_OPTION', `${p.name} takes ${max === r.args.length ? max : `${r.args.length} to ${max}`} arguments (${usage(p)}), got ${args.length}`);
  return r.run(args, ctx);
}

export type { Program, ReproduceContext, ReproduceEntry } from './types.js';
