// `satrnn roles`: the neuron roles experiment (spec/neuron_roles.md) on one or more models.
import { createHash } from 'node:crypto';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_CORPUS, DEFAULT_MODEL } from '../../assets.js';
import { SatrnnError } from '../../errors.js';
import { Analysis } from '../../analysis.js';
import { checkModelFile, loadModel } from '../../model.js';
import { addBackendOptions, backendOptions, emit, expandModelPaths, interrupt, openDataSource, parseIntOption, warn, type BackendFlags } from '../../cli/common.js';
import { progressBar } from '../../cli/progress.js';
import { DEFAULT_ROLE_TAU, DEFAULT_ROLE_TOP, NeuronRoles, type NeuronRolesResult } from './experiment.js';
import { formatRolesCsv, formatRolesText, rolesJson, type RolesRun } from './format.js';

interface RolesFlags extends BackendFlags {
  model?: string[];
  data?: string;
  tau?: number;
  top?: number;
  json?: boolean;
  csv?: boolean;
  output?: string;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** --tau: a plain decimal number of bpc >= 0 (no hex, no Infinity, no empty string). */
function parseTau(value: string): number {
  const n = Number(value);
  if (!/^\s*(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(value) || !Number.isFinite(n))
    throw new InvalidArgumentError(`expected a finite number of bpc >= 0, e.g. --tau ${DEFAULT_ROLE_TAU}`);
  return n;
}

/** Registers `satrnn roles`. */
export function registerRoles(program: Command): void {
  const cmd = program
    .command('roles')
    .description('what each neuron is for: knock out its readout (Wy column), its recurrent output (Wh column) and both (h_j = 0); roles hub/readout/router/noise/inert')
    .addOption(new Option('-m, --model <file>', 'model file or folder of .bin files (repeatable; default: the embedded model)').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option('-d, --data <file>', "text to evaluate on (any bytes, at least 2, any length: read in chunks; '-' reads stdin; default: the embedded corpus)")
    .addOption(new Option('--tau <bpc>', `role threshold in bpc (default ${DEFAULT_ROLE_TAU})`).argParser(parseTau))
    .addOption(new Option('--top <n>', `neurons listed in the text report, by delta_full (default ${DEFAULT_ROLE_TOP}; JSON and CSV list all)`).argParser(parseIntOption(1, 1 << 16)))
    .option('--json', 'JSON output with provenance')
    .option('--csv', 'CSV output')
    .option('-o, --output <file>', 'write to a file instead of stdout');
  addBackendOptions(cmd).action(async (flags: RolesFlags) => {
    if (flags.json && flags.csv) throw new SatrnnError('BAD_OPTION', 'choose one of --json and --csv');
    const roles = new NeuronRoles({ ...(flags.tau !== undefined ? { tau: flags.tau } : {}), ...(flags.top !== undefined ? { top: flags.top } : {}) });
    // No --model / --data: the embedded default model and the corpus it was trained on.
    const modelPaths = flags.model?.length ? flags.model : [DEFAULT_MODEL];
    // The models are checked (unread) before the data is read; a stream is read as the
    // analysis goes with one model, saved to a temporary file first with more.
    const modelFiles = expandModelPaths(modelPaths);
    for (const file of modelFiles) checkModelFile(file);
    const input = await openDataSource(flags.data ?? DEFAULT_CORPUS, { passes: modelFiles.length, signal: interrupt.signal, command: 'roles' });
    const opts = backendOptions(flags);
    const runs: (RolesRun & { backend: string; isa: string })[] = [];
    try {
      for (const file of modelFiles) {
        const model = loadModel(file);
        const an = new Analysis({ model, data: input.data, backend: opts, onWarning: warn });
        const bar = progressBar(`roles ${file}`);
        let result: NeuronRolesResult;
        try {
          result = await roles.run(an, { onProgress: bar.update, signal: interrupt.signal });
        } finally {
          bar.stop();
        }
        runs.push({ modelFile: file === DEFAULT_MODEL ? 'embedded default model' : file, sha256: sha256(model.toBytes()), result, backend: an.backend.name, isa: an.backend.isa });
      }
    } finally {
      input.cleanup();
    }
    const inputs = [...modelFiles, flags.data ?? DEFAULT_CORPUS];
    if (flags.json) {
      const provenance = {
        backend: runs[0]!.backend,
        isa: runs[0]!.isa,
        readoutMethod: 'certified',
        data: { file: input.label, bytes: input.bytes, sha256: input.sha256 },
        options: { tau: roles.tau, top: roles.top },
      };
      return emit(`${JSON.stringify(rolesJson(runs, provenance), null, 2)}\n`, flags.output, inputs);
    }
    emit(flags.csv ? formatRolesCsv(runs) : runs.map((r) => formatRolesText(r, roles.top)).join('\n'), flags.output, inputs);
  });
}
