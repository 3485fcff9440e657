// How far can the model be pruned (spec q5_redux.md)? Pruned copies (Wh or Wx entries with
// |w| < threshold zeroed; the readout kept only for the top-k neurons of the knockout
// ranking, combined with Wh pruning), each evaluated with the dynamics re-run on the pruned
// weights; plus the |Wh| distribution and a hard-wired "redux" parameter count.
import type { Analysis, Variant } from '../../analysis.js';
import { VOCAB } from '../../engine/layout.js';
import { countAtLeast, countBelow, magnitudes, sortedMagnitudes } from '../../engine/model-stats.js';
import { SatrnnError, describeValue } from '../../errors.js';
import { paramCount } from '../../model.js';
import { batch, runBatch, type Batch } from '../batch.js';
import { ReadoutKnockout, checkExperimentOptions, type ExperimentRunOptions, type ReadoutKnockoutResult } from '../q3_neurons/experiment.js';

/** One pruned copy of a matrix. */
export interface PruneRow {
  /** Entries with |w| < threshold are zeroed (float32 threshold, strict comparison). */
  readonly threshold: number;
  /** Entries zeroed (entries already 0 count when threshold > 0). */
  readonly zeroed: number;
  /** 100 · zeroed / entries of the matrix. */
  readonly pctZeroed: number;
  /** Mean bpc of the pruned copy (dynamics re-run on the pruned weights). */
  readonly bpc: number;
  /** bpc − baselineBpc. */
  readonly deltaBpc: number;
}

/** One combined row: top-k readout and Wh pruning together. */
export interface CombinedRow {
  /** Readout kept for the top k neurons of the knockout ranking only. */
  readonly k: number;
  /** Wh entries with |w| < whThreshold are zeroed. */
  readonly whThreshold: number;
  /** 100 · k / H. */
  readonly wyPctKept: number;
  /** 100 · (Wh entries not zeroed) / H². */
  readonly whPctKept: number;
  /** Mean bpc of the copy (dynamics re-run on the pruned Wh, readout of the top k). */
  readonly bpc: number;
  /** bpc − baselineBpc. */
  readonly deltaBpc: number;
}

/** The |Wh| distribution. */
export interface MagnitudeDistribution {
  /** [p, |Wh| at index floor(p · H² / 100) of the ascending list], in the order of the options' percentiles. */
  readonly percentiles: readonly {
    /** The percentile, 0..99. */
    readonly p: number;
    /** |Wh| there. */
    readonly value: number;
  }[];
  /** Smallest |Wh|. */
  readonly min: number;
  /** Largest |Wh|. */
  readonly max: number;
  /** Mean |Wh|, summed in double in ascending order. */
  readonly mean: number;
}

/** The "redux" parameter count of one configuration (q5's hard-wired k = 15, threshold 2). */
export interface ReduxCount {
  /** Neurons whose Wy column is kept. */
  readonly k: number;
  /** Wh entries with |w| < whThreshold are dropped. */
  readonly whThreshold: number;
  /** Parameters of the full model. */
  readonly fullParams: number;
  /** Wx (whole) + Wh entries with |w| >= threshold + bh + k Wy columns + by. */
  readonly params: number;
  /** k · 256 Wy entries. */
  readonly wyParams: number;
  /** Wh entries with |w| ≥ whThreshold. */
  readonly whParams: number;
  /** All 256 · H Wx entries (the dynamics need them). */
  readonly wxParams: number;
}

/** Result of {@link PruneStudy}. */
export interface PruneStudyResult {
  /** Hidden units H. */
  readonly hidden: number;
  /** Predictions evaluated (text length − 1). */
  readonly predictions: number;
  /** Mean bpc of the intact model. */
  readonly baselineBpc: number;
  /** The readout knockout that ranks the neurons for the combined rows. */
  readonly knockout: ReadoutKnockoutResult;
  /** One row per threshold, in the order of the options' thresholds. */
  readonly whPruning: readonly PruneRow[];
  /** The same for Wx. */
  readonly wxPruning: readonly PruneRow[];
  /** For each k (in order), each Wh threshold (in order). */
  readonly combined: readonly CombinedRow[];
  /** The |Wh| distribution. */
  readonly whMagnitudes: MagnitudeDistribution;
  /** The redux parameter count. */
  readonly redux: ReduxCount;
}

/** Options of {@link PruneStudy}; every list is evaluated in the order given. */
export interface PruneStudyOptions {
  /** Thresholds of the Wh and Wx pruning rows (default: q5's 0, 0.5, ..., 10). */
  readonly thresholds?: readonly number[];
  /** k values of the combined rows (default 5, 10, 15, 20, 30, H; values above H are dropped). */
  readonly combinedK?: readonly number[];
  /** Wh thresholds of the combined rows (default 0, 1, 2, 3). */
  readonly combinedThresholds?: readonly number[];
  /** Percentiles of |Wh| (default 10, 25, 50, 75, 90, 95, 99). */
  readonly percentiles?: readonly number[];
  /** The redux configuration counted (default k = min(15, H), threshold 2.0, as the original). */
  readonly redux?: {
    /** Neurons whose Wy column is kept. */
    readonly k: number;
    /** Wh entries below this magnitude are dropped. */
    readonly whThreshold: number;
  };
}

/** q5's pruning thresholds. */
export const DEFAULT_THRESHOLDS = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0, 10.0] as const;

function checkList(list: unknown, what: string): void {
  if (!Array.isArray(list)) throw new SatrnnError('BAD_OPTION', `${what} must be an array of numbers (got ${describeValue(list)})`);
}

function checkThresholds(list: readonly number[], what: string): void {
  checkList(list, `${what} thresholds`);
  for (const t of list)
    if (!(typeof t === 'number' && Number.isFinite(t) && t >= 0)) throw new SatrnnError('BAD_OPTION', `${what}: threshold ${t} must be a finite number >= 0`);
}

/**
 * The q5 study in two passes: the readout knockouts (they rank the neurons; the dynamics
 * are shared), then every pruned copy at once (copies with identical weights, e.g. every
 * threshold above the largest |w|, share one forward pass).
 */
export class PruneStudy {
  /** @param options - the study's lists (defaults: the original's). */
  constructor(
    /** The options, as given. */
    readonly options: PruneStudyOptions = {},
  ) {}

  /** The checked lists of the study for H hidden units. */
  private plan(H: number): { thresholds: readonly number[]; combinedK: number[]; combinedT: readonly number[] } {
    const o = this.options;
    const thresholds = o.thresholds ?? DEFAULT_THRESHOLDS;
    const combinedT = o.combinedThresholds ?? [0.0, 1.0, 2.0, 3.0];
    checkThresholds(thresholds, 'pruning');
    checkThresholds(combinedT, 'combined');
    if (o === null || typeof o !== 'object') throw new SatrnnError('BAD_OPTION', `PruneStudy options must be an object (got ${describeValue(o)})`);
    const ks = o.combinedK ?? [5, 10, 15, 20, 30, H];
    checkList(ks, 'combinedK');
    for (const k of ks) if (!Number.isInteger(k) || k < 0) throw new SatrnnError('BAD_OPTION', `combined k ${String(k)} must be a non-negative integer`);
    return { thresholds, combinedK: ks.filter((k) => k <= H), combinedT };
  }

  /** The second pass (every pruned copy), once the ranking is known. */
  pruneBatch(an: Analysis, knockout: ReadoutKnockoutResult): Batch<Omit<PruneStudyResult, 'knockout' | 'whMagnitudes' | 'redux' | 'hidden' | 'predictions'>> {
    const H = an.hidden;
    const { thresholds, combinedK, combinedT } = this.plan(H);
    const B = knockout.baselineBpc;
    // What a threshold edit zeroes (|w| < thr), counted in each matrix's sorted magnitudes
    // (one sort per matrix instead of an applyEdits per row: 46 passes over the weights).
    const sorted = { Wh: undefined as Float32Array | undefined, Wx: undefined as Float32Array | undefined };
    const zeroedBy = (matrix: 'Wh' | 'Wx', thr: number): number => countBelow((sorted[matrix] ??= sortedMagnitudes(an.model[matrix])), thr);
    const variants: Variant[] = [];
    for (const matrix of ['Wh', 'Wx'] as const) for (const threshold of thresholds) variants.push({ edits: [{ matrix, threshold }] });
    for (const k of combinedK)
      for (const threshold of combinedT) variants.push({ keepOnly: knockout.ranking.slice(0, k), edits: [{ matrix: 'Wh', threshold }] });
    return batch(variants, (bpc) => {
      let i = 0;
      const rows = (matrix: 'Wh' | 'Wx'): PruneRow[] =>
        thresholds.map((threshold) => {
          const zeroed = zeroedBy(matrix, threshold);
          const b = bpc[i++]!;
          return { threshold, zeroed, pctZeroed: (100.0 * zeroed) / (matrix === 'Wh' ? H * H : H * VOCAB), bpc: b, deltaBpc: b - B };
        });
      const whPruning = rows('Wh');
      const wxPruning = rows('Wx');
      const combined: CombinedRow[] = [];
      for (const k of combinedK)
        for (const whThreshold of combinedT) {
          const b = bpc[i++]!;
          const kept = H * H - zeroedBy('Wh', whThreshold);
          combined.push({ k, whThreshold, wyPctKept: (100.0 * k) / H, whPctKept: (100.0 * kept) / (H * H), bpc: b, deltaBpc: b - B });
        }
      return { baselineBpc: B, whPruning, wxPruning, combined };
    });
  }

  /** Runs the study (two passes); `opts.baselineBpc`, when given, saves the baseline variant. */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<PruneStudyResult> {
    opts = checkExperimentOptions(opts);
    const H = an.hidden;
    const nK = H + (opts.baselineBpc === undefined ? 1 : 0);
    const p = this.plan(H);
    const second = 2 * p.thresholds.length + p.combinedK.length * p.combinedT.length;
    const total = nK + second;
    const knockout = await new ReadoutKnockout().run(an, {
      ...opts,
      onProgress: (d, all) => opts.onProgress?.(all > 0 ? Math.round((nK * d) / all) : 0, total),
    });
    const pruned = await runBatch(an, this.pruneBatch(an, knockout), {
      ...opts,
      onProgress: (d, all) => opts.onProgress?.(nK + (all > 0 ? Math.round((second * d) / all) : 0), total),
    });
    return {
      hidden: H,
      predictions: an.predictions,
      knockout,
      ...pruned,
      whMagnitudes: this.distribution(an),
      redux: this.reduxCount(an),
    };
  }

  /** The |Wh| distribution (percentiles, min, max, mean) of the analysis' model. */
  distribution(an: Pick<Analysis, 'model'>): MagnitudeDistribution {
    const m = magnitudes(an.model.Wh);
    const N = m.sorted.length;
    const ps = this.options.percentiles ?? [10, 25, 50, 75, 90, 95, 99];
    checkList(ps, 'percentiles');
    for (const p of ps) if (!Number.isInteger(p) || p < 0 || p >= 100) throw new SatrnnError('BAD_OPTION', `percentile ${p} must be an integer in 0..99`);
    return { percentiles: ps.map((p) => ({ p, value: m.sorted[Math.floor((p * N) / 100)]! })), min: m.min, max: m.max, mean: m.mean };
  }

  /** The redux parameter count of the analysis' model. */
  reduxCount(an: Pick<Analysis, 'model'>): ReduxCount {
    const H = an.model.hidden;
    const redux = this.options.redux ?? { k: Math.min(15, H), whThreshold: 2.0 };
    if (redux === null || typeof redux !== 'object') throw new SatrnnError('BAD_OPTION', `redux must be { k, whThreshold } (got ${describeValue(redux)})`);
    const { k, whThreshold } = redux;
    checkThresholds([whThreshold], 'redux');
    if (!Number.isInteger(k) || k < 0 || k > H) throw new SatrnnError('BAD_OPTION', `redux k must be an integer in 0..${H}`);
    const whParams = countAtLeast(an.model.Wh, whThreshold);
    const wxParams = H * VOCAB;
    const wyParams = k * VOCAB;
    return { k, whThreshold, fullParams: paramCount(H), params: wxParams + whParams + H + wyParams + VOCAB, wyParams, whParams, wxParams };
  }
}
