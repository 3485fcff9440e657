// The shape shared by commands that run one experiment per model on one text (`knockout`,
// `roles`): the -m/-d options, the models checked before the text is read, one Analysis
// and one progress bar per model, and what each model's report line needs. (Kept out of
// common.ts so that commands without models do not load the analysis modules.)
import { createHash } from 'node:crypto';
import { Option, type Command } from 'commander';
import { Analysis } from '../analysis.js';
import { DEFAULT_CORPUS, DEFAULT_MODEL } from '../assets.js';
import type { RunOptions } from '../engine/types.js';
import { checkModelFile, loadModel } from '../model.js';
import { backendOptions, expandModelPaths, interrupt, openDataSource, warn, type BackendFlags, type DataSource } from './common.js';
import { progressBar } from './progress.js';

/** The flags of {@link addModelDataOptions}. */
export interface ModelDataFlags extends BackendFlags {
  model?: string[];
  data?: string;
}

/** -m/--model (repeatable, files or folders) and -d/--data, with the embedded defaults. */
export function addModelDataOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-m, --model <file>', 'model file or folder of .bin files (repeatable; default: the embedded model)').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option('-d, --data <file>', "text to evaluate on (any bytes, at least 2, any length: read in chunks; '-' reads stdin; default: the embedded corpus)");
}

/** One model's result with what its report names: the file, its sha256 and the code path. */
export interface ModelRun<R> {
  /** The model file as given (or "embedded default model"). */
  readonly modelFile: string;
  /** sha256 of the model's bytes. */
  readonly sha256: string;
  /** The experiment's result. */
  readonly result: R;
  /** 'native' or 'js'. */
  readonly backend: string;
  /** The code path. */
  readonly isa: string;
}

/**
 * Runs `experiment` on every model the flags name (folders expanded; each checked before the
 * text is read), all on the one text (a stream is saved first when it is read more than once:
 * `passesPerModel` passes per model). Returns the runs, the text as opened (label, bytes,
 * sha256) and every input file (what `-o` may not name).
 */
export async function runOnModels<R>(
  command: string,
  flags: ModelDataFlags,
  passesPerModel: number,
  experiment: (an: Analysis, opts: RunOptions) => Promise<R>,
): Promise<{ runs: ModelRun<R>[]; input: DataSource; inputs: string[] }> {
  // No --model / --data: the embedded default model and the corpus it was trained on.
  const modelFiles = expandModelPaths(flags.model?.length ? flags.model : [DEFAULT_MODEL]);
  // The models' type and size are checked (unread) before the data is read; a stream
  // (stdin, a FIFO) is read as the analysis goes with one pass, saved first with more.
  for (const file of modelFiles) checkModelFile(file);
  const input = await openDataSource(flags.data ?? DEFAULT_CORPUS, { passes: modelFiles.length * passesPerModel, signal: interrupt.signal, command });
  const backend = backendOptions(flags);
  const runs: ModelRun<R>[] = [];
  try {
    for (const file of modelFiles) {
      const model = loadModel(file);
      const an = new Analysis({ model, data: input.data, backend, onWarning: warn });
      const bar = progressBar(`${command} ${file}`);
      let result: R;
      try {
        result = await experiment(an, { onProgress: bar.update, signal: interrupt.signal });
      } finally {
        bar.stop();
      }
      const sha256 = createHash('sha256').update(model.toBytes()).digest('hex');
      runs.push({ modelFile: file === DEFAULT_MODEL ? 'embedded default model' : file, sha256, result, backend: an.backend.name, isa: an.backend.isa });
    }
  } finally {
    input.cleanup();
  }
  return { runs, input, inputs: [...modelFiles, flags.data ?? DEFAULT_CORPUS] };
}

/** The provenance fields of a per-model report: the code path of the first run, the method, the text and the options. */
export function runProvenance<O>(runs: readonly ModelRun<unknown>[], input: DataSource, options: O) {
  return {
    backend: runs[0]!.backend,
    isa: runs[0]!.isa,
    readoutMethod: 'certified',
    data: { file: input.label, bytes: input.bytes, sha256: input.sha256 },
    options,
  };
}
