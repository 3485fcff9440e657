// `satrnn roles`: the neuron roles experiment (spec/neuron_roles.md) on one or more models.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SatrnnError } from '../../errors.js';
import { addBackendOptions, emit, parseIntOption } from '../../cli/common.js';
import { addModelDataOptions, runOnModels, runProvenance, type ModelDataFlags } from '../../cli/model-runs.js';
import { DEFAULT_ROLE_TAU, DEFAULT_ROLE_TOP, NeuronRoles } from './experiment.js';
import { formatRolesCsv, formatRolesText, rolesJson } from './format.js';

interface RolesFlags extends ModelDataFlags {
  tau?: number;
  top?: number;
  json?: boolean;
  csv?: boolean;
  output?: string;
}

/** --tau: a plain decimal number of bpc >= 0 (no hex, no Infinity, no empty string). */
function parseTau(value: string): number {
  const n = Number(value);
  if (!/^\s*(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(value) || !Number.isFinite(n))
    throw new InvalidArgumentError(`expected a finite number of bpc >= 0, e.g. --tau ${DEFAULT_ROLE_TAU}`);
  return n;
}

/** Registers `satrnn roles`. */
export function registerRoles(program: Command): void {
  const cmd = addModelDataOptions(program.command('roles'))
    .description('what each neuron is for: knock out its readout (Wy column), its recurrent output (Wh column) and both (h_j = 0); roles hub/readout/router/noise/inert')
    .addOption(new Option('--tau <bpc>', `role threshold in bpc (default ${DEFAULT_ROLE_TAU})`).argParser(parseTau))
    .addOption(new Option('--top <n>', `neurons listed in the text report, by delta_full (default ${DEFAULT_ROLE_TOP}; JSON and CSV list all)`).argParser(parseIntOption(1, 1 << 16)))
    .option('--json', 'JSON output with provenance')
    .option('--csv', 'CSV output')
    .option('-o, --output <file>', 'write to a file instead of stdout');
  addBackendOptions(cmd).action(async (flags: RolesFlags) => {
    if (flags.json && flags.csv) throw new SatrnnError('BAD_OPTION', 'choose one of --json and --csv');
    const roles = new NeuronRoles({ ...(flags.tau !== undefined ? { tau: flags.tau } : {}), ...(flags.top !== undefined ? { top: flags.top } : {}) });
    const { runs, input, inputs } = await runOnModels('roles', flags, 1, (an, opts) => roles.run(an, opts));
    if (flags.json) {
      const provenance = runProvenance(runs, input, { tau: roles.tau, top: roles.top });
      return emit(`${JSON.stringify(rolesJson(runs, provenance), null, 2)}\n`, flags.output, inputs);
    }
    emit(flags.csv ? formatRolesCsv(runs) : runs.map((r) => formatRolesText(r, roles.top)).join('\n'), flags.output, inputs);
  });
}
