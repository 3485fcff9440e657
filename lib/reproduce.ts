// The `reproduce` layer: original program name -> experiment + text formatter, with the
// originals' input rules (H = 128, first 1,100 data bytes read, at most 1,024 used).
import { readFileChecked } from './io.js';
import type { BackendOptions } from './backend/index.js';
import { checkData } from './data.js';
import { SatrnnError } from './errors.js';
import { Analysis } from './experiments/analysis.js';
import { NeuronSuite } from './experiments/knockout.js';
import { formatNeuronSuiteText } from './format/q3.js';
import { Model, REFERENCE_HIDDEN, parseModel, saveModel } from './model.js';
import { selectBackend } from './backend/index.js';
import { sprintf } from './format/printf.js';
import { train } from './train/trainer.js';
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
  /** Optional trailing arguments. */
  optional?: string[];
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

/** C atoi: leading blanks, an optional sign, digits; anything else gives 0. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  const v = Number(m[1]);
  if (!Number.isSafeInteger(v) || v > 2147483647 || v < -2147483648)
    throw new SatrnnError('BAD_OPTION', `'${s}' is out of the range of a C int`);
  return v;
}

const satTrain: ReproduceProgram = {
  name: 'sat_train',
  summary: 'train a sat-rnn (SGD, truncated BPTT, clipping, cosine lr); writes <prefix>_epoch<e>/_best/_final.bin',
  args: ['datafile', 'model_prefix', 'max_epochs'],
  optional: ['ckpt_every'],
  async run([dataFile, prefix, epochsArg, ckptArg], ctx) {
    const E = atoi(epochsArg!);
    const K = ckptArg === undefined ? 500 : atoi(ckptArg);
    if (E < 1) throw new SatrnnError('BAD_OPTION', `max_epochs must be at least 1 (got '${epochsArg}'); the original leaves the best model uninitialised then`);
    if (K < 1) throw new SatrnnError('BAD_OPTION', `ckpt_every must be at least 1 (got '${ckptArg}'); the original divides by zero`);
    const data = checkData(readFileChecked(dataFile!, 'data'), dataFile!);
    const backend = selectBackend(ctx.backend);
    const out: string[] = [sprintf('sat_train: %d bytes, %d epochs, ckpt every %d', data.length, E, K), sprintf('%8s %10s %10s %8s', 'epoch', 'train_bpc', 'eval_bpc', 'lr')];
    // The original reports a failed write with perror and carries on (exit status 0).
    const save = (w: Float32Array, file: string): void => {
      try {
        saveModel(new Model(w, REFERENCE_HIDDEN), file);
      } catch (err) {
        (ctx.onWarning ?? ((m: string) => process.stderr.write(`${m}\n`)))(`save_model: ${(err as Error).message}`);
      }
    };
    const result = await train({
      data,
      epochs: E,
      backend,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onEpoch: (m, state) => {
        if (m.evalBpc !== null) out.push(sprintf('%8d %10.4f %10.4f %8.6f%s', m.epoch, m.trainBpc, m.evalBpc, m.lr, m.nearBest ? ' *' : ''));
        if (m.epoch % K === 0) save(state.weights, `${prefix}_epoch${m.epoch}.bin`);
        ctx.onProgress?.(m.epoch, E);
      },
    });
    const best = result.best!; // E >= 1 and finite bpc: epoch 1 always improves on 999
    const bestFile = `${prefix}_best.bin`;
    save(best.model.weights, bestFile);
    const bestEval = await backend.evalBpc(best.model.weights, REFERENCE_HIDDEN, data);
    out.push('', sprintf('Best model: %.4f bpc -> %s', bestEval, bestFile));
    save(result.model.weights, `${prefix}_final.bin`);
    return `${out.join('\n')}\n`;
  },
};

export const PROGRAMS: readonly ReproduceProgram[] = [q3Neurons, satTrain];

export function findProgram(name: string): ReproduceProgram {
  const p = PROGRAMS.find((x) => x.name === name);
  if (!p)
    throw new SatrnnError(
      'BAD_OPTION',
      `unknown program '${name}'; available: ${PROGRAMS.map((x) => x.name).join(', ')} (see \`satrnn reproduce --list\`)`,
    );
  return p;
}

/** `name <a> <b> [c]` */
export function usage(p: ReproduceProgram): string {
  return [p.name, ...p.args.map((a) => `<${a}>`), ...(p.optional ?? []).map((a) => `[${a}]`)].join(' ');
}

/** Runs an original program by name with its positional arguments. */
export async function reproduce(name: string, args: string[], ctx: ReproduceContext = {}): Promise<string> {
  const p = findProgram(name);
  const max = p.args.length + (p.optional?.length ?? 0);
  if (args.length < p.args.length) throw new SatrnnError('BAD_OPTION', `Usage: satrnn reproduce ${usage(p)}`);
  if (args.length > max)
    throw new SatrnnError('BAD_OPTION', `${p.name} takes ${max === p.args.length ? max : `${p.args.length} to ${max}`} arguments (${usage(p)}), got ${args.length}`);
  return p.run(args, ctx);
}
