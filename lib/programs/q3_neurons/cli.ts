import { createHash } from 'node:crypto';
import { Command, Option } from 'commander';
import { DEFAULT_CORPUS, DEFAULT_MODEL } from '../../assets.js';
import { SatrnnError } from '../../errors.js';
import { Analysis } from '../../analysis.js';
import { DynamicsKnockout, ReadoutKnockout, type KnockoutMode, type KnockoutResult, type KnockoutSite } from './experiment.js';
import { formatKnockoutCsv, formatKnockoutTable, knockoutJson, type KnockoutRun } from './format-table.js';
import { checkModelFile, loadModel } from '../../model.js';
import { addBackendOptions, backendOptions, emit, expandModelPaths, interrupt, openDataSource, parseIntOption, warn, type BackendFlags } from '../../cli/common.js';
import { progressBar } from '../../cli/progress.js';

interface KnockoutFlags extends BackendFlags {
  model?: string[];
  data?: string;
  top?: number;
  in?: KnockoutSite;
  mode?: KnockoutMode;
  json?: boolean;
  csv?: boolean;
  output?: string;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function registerKnockout(program: Command): void {
  const cmd = program
    .command('knockout')
    .description('rank neurons by the bpc increase when each is knocked out: in the readout (its Wy column removed; default) or inside the dynamics')
    .addOption(new Option('-m, --model <file>', 'model file or folder of .bin files (repeatable; default: the embedded model)').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option('-d, --data <file>', "text to evaluate on (any bytes, at least 2, any length: read in chunks; '-' reads stdin; default: the embedded corpus)")
    .addOption(new Option('--top <n>', 'show only the N most important neurons').argParser(parseIntOption(1, 1 << 16)))
    .addOption(new Option('--in <site>', 'where the knockout acts: readout (its Wy column; the original q3) or dynamics (h_j replaced after every step, so the next step does not see it either)').choices(['readout', 'dynamics']).default('readout'))
    .addOption(new Option('--mode <mode>', "what replaces the neuron: zero, or mean (its mean over the intact run on this text)").choices(['zero', 'mean']).default('zero'))
    .option('--json', 'JSON output with provenance')
    .option('--csv', 'CSV output')
    .option('-o, --output <file>', 'write to a file instead of stdout');
  addBackendOptions(cmd).action(async (flags: KnockoutFlags) => {
      if (flags.json && flags.csv) throw new SatrnnError('BAD_OPTION', 'choose one of --json and --csv');
      // No --model / --data: the embedded default model and the corpus it was trained on.
      const modelPaths = flags.model?.length ? flags.model : [DEFAULT_MODEL];
      // The models' type and size are checked (unread) before the data is read; a stream
      // (stdin, a FIFO) is read as the analysis goes with one model, saved first with more.
      const modelFiles = expandModelPaths(modelPaths);
      for (const file of modelFiles) checkModelFile(file);
      // --mode mean reads the text twice per model (the intact run's means first).
      const passes = modelFiles.length * (flags.mode === 'mean' ? 2 : 1);
      const input = await openDataSource(flags.data ?? DEFAULT_CORPUS, { passes, signal: interrupt.signal, command: 'knockout' });
      const dataFile = input.label;
      const data = input.data;
      const opts = backendOptions(flags);
      const runs: (KnockoutRun & { backend: string; isa: string })[] = [];
      try {
        for (const file of modelFiles) {
          const model = loadModel(file);
          const an = new Analysis({ model, data, backend: opts, onWarning: warn });
          const bar = progressBar(`knockout ${file}`);
          let result: KnockoutResult;
          const site = flags.in ?? 'readout';
          const experiment = site === 'readout' ? new ReadoutKnockout({ mode: flags.mode ?? 'zero' }) : new DynamicsKnockout({ mode: flags.mode ?? 'zero' });
          try {
            result = await experiment.run(an, { onProgress: bar.update, signal: interrupt.signal });
          } finally {
            bar.stop();
          }
          runs.push({ modelFile: file === DEFAULT_MODEL ? 'embedded default model' : file, sha256: sha256(model.toBytes()), result, backend: an.backend.name, isa: an.backend.isa });
        }
      } finally {
        input.cleanup();
      }
      const top = flags.top;
      if (flags.json) {
        const provenance = {
          backend: runs[0]!.backend,
          isa: runs[0]!.isa,
          readoutMethod: 'certified',
          data: { file: dataFile, bytes: input.bytes, sha256: input.sha256 },
          options: { top: top ?? null, in: flags.in ?? 'readout', mode: flags.mode ?? 'zero' },
        };
        return emit(`${JSON.stringify(knockoutJson(runs, provenance, top), null, 2)}\n`, flags.output, [...expandModelPaths(modelPaths), flags.data ?? DEFAULT_CORPUS]);
      }
      const text = flags.csv ? formatKnockoutCsv(runs, top) : runs.map((r) => formatKnockoutTable(r, top)).join('\n');
      emit(text, flags.output, [...expandModelPaths(modelPaths), flags.data ?? DEFAULT_CORPUS]);
    });
}
