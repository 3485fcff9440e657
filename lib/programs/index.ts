// The program registry: every original program (and its modern command) in one list, read
// by `satrnn reproduce --list`, the CLI and the public API. Entries carry their usage and
// summary; the programs' modules (experiments, engine, trainer, CLI commands) load only when
// one is run, so `satrnn reproduce q3_neurons …` loads nothing of q5 or the trainer.
import { SatrnnError } from '../errors.js';
import type { Command, Program, ReproduceContext, ReproduceEntry } from './types.js';

type Run = ReproduceEntry['run'];

/** A reproduce entry whose `run` imports its implementation on the first call. */
function lazyEntry(args: string[], optional: string[] | undefined, load: () => Promise<Run>): ReproduceEntry {
  let run: Promise<Run> | undefined;
  return {
    args,
    ...(optional ? { optional } : {}),
    async run(a, ctx) {
      return (await (run ??= load()))(a, ctx);
    },
  };
}

/** Every original program satrnn reproduces, in `satrnn reproduce --list` order. */
export const PROGRAMS: readonly Program[] = [
  {
    name: 'q3_neurons',
    summary: 'readout knockout, cumulative knockout, keep-top-k, sign-only, top-10 decode',
    reproduce: lazyEntry(['data', 'model'], undefined, async () => (await import('./q3_neurons/reproduce.js')).runQ3),
    loadCommand: async () => (await import('./q3_neurons/cli.js')).registerKnockout,
  },
  {
    name: 'q5_redux',
    summary: 'prune Wh / Wx by magnitude, keep the top-k readout neurons, |Wh| distribution, parameter count',
    reproduce: lazyEntry(['data', 'model'], undefined, async () => (await import('./q5_redux/reproduce.js')).runQ5),
  },
  {
    name: 'sat_train',
    summary: 'train a sat-rnn (SGD, truncated BPTT, clipping, cosine lr); writes <prefix>_epoch<e>/_best/_final.bin',
    reproduce: lazyEntry(['datafile', 'model_prefix', 'max_epochs'], ['ckpt_every'], async () => (await import('./sat_train/reproduce.js')).runSatTrain),
    loadCommand: async () => (await import('./sat_train/cli.js')).registerTrain,
  },
];

/**
 * The modern commands that have no original program (new experiments of this project):
 * `satrnn roles`, `satrnn sweep` and its preset `satrnn prune`. Like the programs' commands,
 * each loads its module only when the full CLI is built.
 */
export const COMMANDS: readonly Command[] = [
  {
    name: 'neuron_roles',
    summary: 'what each neuron is for: readout, routing (through Wh), both, or nothing (knockouts in the readout, the recurrence and both)',
    loadCommand: async () => (await import('./neuron_roles/cli.js')).registerRoles,
  },
  {
    name: 'sweep',
    summary: 'grids of keep-top-k, Wh/Wx magnitude thresholds and interventions over many models and texts (and the prune preset)',
    loadCommand: async () => (await import('./sweep/cli.js')).registerSweep,
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

export type { Command, Program, ReproduceContext, ReproduceEntry } from './types.js';
