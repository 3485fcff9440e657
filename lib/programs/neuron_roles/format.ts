// Formats of `satrnn roles`: an aligned text report, CSV and JSON. Column and key names
// follow README's glossary: the same word in camelCase (API, JSON) and snake_case (CSV,
// text headers).
import { sprintf } from '../../format/printf.js';
import { VERSION } from '../../version.js';
import type { KnockoutProvenance } from '../q3_neurons/format-table.js';
import { NEURON_ROLES, type NeuronRolesResult } from './experiment.js';

/** One model's roles in a report: the label it is shown under, its sha256 and the result. */
export interface RolesRun {
  /** The model file as given (or "embedded default model"). */
  readonly modelFile: string;
  /** sha256 of the model's bytes. */
  readonly sha256: string;
  /** The model's roles. */
  readonly result: NeuronRolesResult;
}

/** The role count line's text: `hub 3, readout 12, …` in {@link NEURON_ROLES} order. */
const countsText = (r: NeuronRolesResult): string => NEURON_ROLES.map((role) => `${role} ${r.counts[role]}`).join(', ');

/**
 * The text report of one model: a header with the baseline, the role counts, then the
 * `top` neurons by delta_full (largest first; ties: lower index first), every column;
 * bpc values to 4 decimals with their sign.
 */
export function formatRolesText(run: RolesRun, top: number): string {
  const r = run.result;
  const shown = r.ranking.slice(0, top);
  const lines = [
    `model_file ${run.modelFile}: hidden ${r.hidden}, predictions ${r.predictions}, baseline_bpc ${sprintf('%.4f', r.baselineBpc)}, tau ${sprintf('%.4f', r.tau)}`,
    `roles: ${countsText(r)}`,
    `neurons by delta_full, largest first (${shown.length} of ${r.hidden}):`,
    '  neuron  delta_readout  delta_recurrent  delta_full  interaction  role     saturation  needs_mantissa',
  ];
  for (const j of shown) {
    const n = r.neurons[j]!;
    lines.push(
      sprintf(
        '  %6d  %13s  %15s  %10s  %11s  %-7s  %10.4f  %s',
        j,
        sprintf('%+.4f', n.deltaReadout),
        sprintf('%+.4f', n.deltaRecurrent),
        sprintf('%+.4f', n.deltaFull),
        sprintf('%+.4f', n.interaction),
        n.role,
        n.saturation,
        n.needsMantissa ? 'yes' : 'no',
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Header of {@link formatRolesCsv}. */
export const ROLES_CSV_COLUMNS = [
  'model_file',
  'neuron',
  'baseline_bpc',
  'tau',
  'delta_readout',
  'delta_recurrent',
  'delta_full',
  'interaction',
  'role',
  'saturation',
  'needs_mantissa',
] as const;

/** One CSV row per (model, neuron), models in the order given, neurons in ranking order (every neuron); full-precision numbers. */
export function formatRolesCsv(runs: readonly RolesRun[]): string {
  const field = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows: string[] = [ROLES_CSV_COLUMNS.join(',')];
  for (const { modelFile, result: r } of runs)
    for (const j of r.ranking) {
      const n = r.neurons[j]!;
      rows.push([field(modelFile), j, r.baselineBpc, r.tau, n.deltaReadout, n.deltaRecurrent, n.deltaFull, n.interaction, n.role, n.saturation, n.needsMantissa].join(','));
    }
  return `${rows.join('\n')}\n`;
}

/** Identifier and version of the roles JSON document. */
export const ROLES_JSON_SCHEMA = 'satrnn.roles/1';

/** Where a roles report came from (as the knockout's provenance, with the roles' options). */
export interface RolesProvenance extends Omit<KnockoutProvenance, 'options'> {
  /** The options that shaped the report. */
  readonly options: {
    /** The role threshold in bpc. */
    readonly tau: number;
    /** Rows of the text report (JSON and CSV list every neuron). */
    readonly top: number;
  };
}

/** The roles JSON document (schema {@link ROLES_JSON_SCHEMA}; README documents every field). */
export function rolesJson(runs: readonly RolesRun[], provenance: RolesProvenance): object {
  return {
    schema: ROLES_JSON_SCHEMA,
    provenance: { satrnn: VERSION, ...provenance },
    // Each model: its file, digest and result (hidden, predictions, baselineBpc, tau, counts),
    // then the ranking and the neurons in ranking order.
    models: runs.map(({ modelFile, sha256, result }) => {
      const { neurons, ranking, ...summary } = result;
      return { modelFile, sha256, ...summary, ranking, neurons: ranking.map((j) => neurons[j]) };
    }),
  };
}
