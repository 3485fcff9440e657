// The `reproduce` layer: original program name -> experiment + text formatter, with the
// originals' input rules (H = 128, first 1,100 data bytes read, at most 1,024 used).
import { readFileChecked } from './io.js';
import type { BackendOptions } from './backend/index.js';
import { checkData } from './data.js';
import { SatrnnError } from './errors.js';
import { Analysis } from './experiments/analysis.js';
import { NeuronSuite } from './experiments/knockout.js';
import { formatNeuronSuiteText } from './format/q3.js';
import { REFERENCE_HIDDEN, parseModel, type Model } from './model.js';
import type { RunOptions } from './backend/types.js';

export interface ReproduceContext extends RunOptions {
  backend?: BackendOptions;
  /** Where one-line warnings go (default: stderr). */
  onWarning?: (message: string) => void;
}

export interface ReproduceProgram {
  name: string;
  summary: string;
  /** Positional argument names, as the original's usage line shows them. */
  args: string[];
  /** Returns exactly the bytes the original wrote to stdout. */
  run(args: string[], ctx: ReproduceContext): Promise<string>;
}

/** The originals read one 1,100-byte buffer and use at most 1,024 bytes. */
export function readOriginalData(file: string, minBytes = 2): Uint8Array {
  const bytes = readFileChecked(file, 'data').subarray(0, 1100);
  return checkData(bytes.subarray(0, 1024), file, { minBytes });
}

/** H = 128 only; short files are errors; trailing bytes are ignored with a warning. */
export function readOriginalModel(file: string, onWarning?: (m: string) => void): Model {
  return parseModel(readFileChecked(file, 'model'), file, {
    hidden: REFERENCE_HIDDEN,
    allowTrailing: true,
    ...(onWarning ? { onWarning } : {}),
  });
}

const q3Neurons: ReproduceProgram = {
  name: 'q3_neurons',
  summary: 'readout knockout, cumulative knockout, keep-top-k, sign-only, top-10 decode',
  args: ['data', 'model'],
  async run([dataFile, modelFile], ctx) {
    const data = readOriginalData(dataFile!);
    const model = readOriginalModel(modelFile!, ctx.onWarning);
    const an = new Analysis({ model, data, ...(ctx.backend ? { backend: ctx.backend } : {}) });
    const result = await new NeuronSuite().run(an, ctx);
    return formatNeuronSuiteText(result);
  },
};

export const PROGRAMS: readonly ReproduceProgram[] = [q3Neurons];

export function findProgram(name: string): ReproduceProgram {
  const p = PROGRAMS.find((x) => x.name === name);
  if (!p)
    throw new SatrnnError(
      'BAD_OPTION',
      `unknown program '${name}'; available: ${PROGRAMS.map((x) => x.name).join(', ')} (see \`satrnn reproduce --list\`)`,
    );
  return p;
}

/** Runs an original program by name with its positional arguments. */
export async function reproduce(name: string, args: string[], ctx: ReproduceContext = {}): Promise<string> {
  const p = findProgram(name);
  if (args.length < p.args.length)
    throw new SatrnnError('BAD_OPTION', `Usage: satrnn reproduce ${p.name} ${p.args.map((a) => `<${a}>`).join(' ')}`);
  if (args.length > p.args.length)
    throw new SatrnnError('BAD_OPTION', `${p.name} takes ${p.args.length} arguments (${p.args.join(', ')}), got ${args.length}`);
  return p.run(args, ctx);
}
