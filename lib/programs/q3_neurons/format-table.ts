// Modern formats of the readout knockout (`satrnn knockout`): an aligned text table, CSV and
// JSON. Column and key names follow README's glossary: the same word in camelCase (API,
// JSON) and snake_case (CSV, text headers).
import type { KnockoutMode, KnockoutResult, KnockoutSite } from './experiment.js';
import { sprintf } from '../../format/printf.js';
import { VERSION } from '../../version.js';

/** One model's knockout in a report: the label it is shown under, its sha256 and the result. */
export interface KnockoutRun {
  /** The model file as given (or "embedded default model"). */
  readonly modelFile: string;
  /** sha256 of the model's bytes. */
  readonly sha256: string;
  /** The model's knockout. */
  readonly result: KnockoutResult;
}

/** Aligned, human-readable knockout table for one model (rank order, the `top` first). */
export function formatKnockoutTable(run: KnockoutRun, top?: number): string {
  const r = run.result;
  const lines = [
    `model_file ${run.modelFile}: hidden ${r.hidden}, predictions ${r.predictions}, baseline_bpc ${sprintf('%.4f', r.baselineBpc)}${r.site === 'readout' && r.mode === 'zero' ? '' : `, knockout in ${r.site}, mode ${r.mode}`}`,
    '  rank  neuron      bpc  delta_bpc  wy_norm  mean_abs_h',
  ];
  for (const j of r.ranking.slice(0, top)) {
    const n = r.neurons[j]!;
    lines.push(sprintf('  %4d  %6d  %7.4f  %+9.4f  %7.2f  %10.4f', n.rank, j, n.bpc, n.deltaBpc, n.wyNorm, n.meanAbsH));
  }
  return `${lines.join('\n')}\n`;
}

/** Header of {@link formatKnockoutCsv}. */
export const KNOCKOUT_CSV_COLUMNS = ['model_file', 'rank', 'neuron', 'baseline_bpc', 'bpc', 'delta_bpc', 'wy_norm', 'mean_abs_h', 'site', 'mode'] as const;

/** One CSV row per (model, neuron), models in the order given, neurons in rank order; full-precision numbers. */
export function formatKnockoutCsv(runs: readonly KnockoutRun[], top?: number): string {
  const q = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = [KNOCKOUT_CSV_COLUMNS.join(',')];
  for (const { modelFile, result: r } of runs)
    for (const j of r.ranking.slice(0, top)) {
      const n = r.neurons[j]!;
      rows.push([q(modelFile), n.rank, j, r.baselineBpc, n.bpc, n.deltaBpc, n.wyNorm, n.meanAbsH, r.site, r.mode].join(','));
    }
  return `${rows.join('\n')}\n`;
}

/** Identifier and version of the knockout JSON document. */
export const KNOCKOUT_JSON_SCHEMA = 'satrnn.knockout/2';

/** Where a knockout report came from: everything needed to reproduce it. */
export interface KnockoutProvenance {
  /** 'native' or 'js'. */
  readonly backend: string;
  /** The code path: 'avx512', 'avx2', 'sse2', 'scalar' or 'js'. */
  readonly isa: string;
  /** How the readout summed its logits ('certified' or 'ordered'; identical bits). */
  readonly readoutMethod: string;
  /** The text evaluated. */
  readonly data: {
    /** The path as given ('<stdin>' for standard input). */
    readonly file: string;
    /** Its length in bytes. */
    readonly bytes: number;
    /** sha256 of its bytes. */
    readonly sha256: string;
  };
  /** The options that shaped the report. */
  readonly options: {
    /** Neurons listed per model (null: all). */
    readonly top: number | null;
    /** Where the knockout acted (`--in`). */
    readonly in: KnockoutSite;
    /** What replaced the neuron (`--mode`). */
    readonly mode: KnockoutMode;
  };
}

/** The knockout JSON document (schema {@link KNOCKOUT_JSON_SCHEMA}; README documents every field). */
export function knockoutJson(runs: readonly KnockoutRun[], provenance: KnockoutProvenance, top?: number): object {
  return {
    schema: KNOCKOUT_JSON_SCHEMA,
    provenance: { satrnn: VERSION, ...provenance },
    models: runs.map(({ modelFile, sha256, result: r }) => ({
      modelFile,
      sha256,
      hidden: r.hidden,
      predictions: r.predictions,
      site: r.site,
      mode: r.mode,
      baselineBpc: r.baselineBpc,
      ranking: r.ranking.slice(0, top),
      neurons: r.ranking.slice(0, top).map((j) => r.neurons[j]),
    })),
  };
}
