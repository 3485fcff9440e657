import { Command, Option } from 'commander';
import { SatrnnError } from '../../errors.js';
import { DynamicsKnockout, ReadoutKnockout, type KnockoutMode, type KnockoutSite } from './experiment.js';
import { formatKnockoutCsv, formatKnockoutTable, knockoutJson } from './format-table.js';
import { addBackendOptions, emit, parseIntOption } from '../../cli/common.js';
import { addModelDataOptions, runOnModels, runProvenance, type ModelDataFlags } from '../../cli/model-runs.js';

interface KnockoutFlags extends ModelDataFlags {
  top?: number;
  in?: KnockoutSite;
  mode?: KnockoutMode;
  json?: boolean;
  csv?: boolean;
  output?: string;
}

export function registerKnockout(program: Command): void {
  const cmd = addModelDataOptions(program.command('knockout'))
    .description('rank neurons by the bpc increase when each is knocked out: in the readout (its Wy column removed; default) or inside the dynamics')
    .addOption(new Option('--top <n>', 'show only the N most important neurons').argParser(parseIntOption(1, 1 << 16)))
    .addOption(new Option('--in <site>', 'where the knockout acts: readout (its Wy column; the original q3) or dynamics (h_j replaced after every step, so the next step does not see it either)').choices(['readout', 'dynamics']).default('readout'))
    .addOption(new Option('--mode <mode>', "what replaces the neuron: zero, or mean (its mean over the intact run on this text)").choices(['zero', 'mean']).default('zero'))
    .option('--json', 'JSON output with provenance')
    .option('--csv', 'CSV output')
    .option('-o, --output <file>', 'write to a file instead of stdout');
  addBackendOptions(cmd).action(async (flags: KnockoutFlags) => {
      if (flags.json && flags.csv) throw new SatrnnError('BAD_OPTION', 'choose one of --json and --csv');
      const site = flags.in ?? 'readout';
      const mode = flags.mode ?? 'zero';
      const experiment = site === 'readout' ? new ReadoutKnockout({ mode }) : new DynamicsKnockout({ mode });
      // --mode mean reads the text twice per model (the intact run's means first).
      const { runs, input, inputs } = await runOnModels('knockout', flags, mode === 'mean' ? 2 : 1, (an, opts) => experiment.run(an, opts));
      const top = flags.top;
      if (flags.json) {
        const provenance = runProvenance(runs, input, { top: top ?? null, in: site, mode });
        return emit(`${JSON.stringify(knockoutJson(runs, provenance, top), null, 2)}\n`, flags.output, inputs);
      }
      const text = flags.csv ? formatKnockoutCsv(runs, top) : runs.map((r) => formatKnockoutTable(r, top)).join('\n');
      emit(text, flags.output, inputs);
    });
}
