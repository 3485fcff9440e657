// Readout experiments (q3 family): the dynamics run once; only what the readout sees changes.
// Each experiment lists its variants as a Batch and assembles its result from their bpc,
// so a suite fuses several experiments' batches into one pass (lib/programs/batch.ts).
import type { Analysis, Variant as ReadoutVariant } from '../../analysis.js';
import type { RunOptions } from '../../engine/types.js';
import { checkRunOptions } from '../../engine/evaluate.js';
import { SatrnnError, describeValue } from '../../errors.js';
import { VOCAB, type Model } from '../../model.js';
import { distinctSorted, exchangeSort, range } from '../../util/exchangeSort.js';
import { batch, fuse, runBatch, type Batch } from '../batch.js';

/** Run options of every experiment: progress, cancellation and, optionally, the baseline. */
export interface ExperimentRunOptions extends RunOptions {
  /**
   * Mean bpc of the intact model on this analysis' text, when already known (e.g. from a
   * ReadoutKnockoutResult). Without it the experiment evaluates the baseline in the same
   * pass (the same bits: it is the same computation).
   */
  baselineBpc?: number;
}

/**
 * The checked run options of an experiment (undefined = none).
 * @internal
 */
export const checkExperimentOptions = (opts: ExperimentRunOptions | undefined): ExperimentRunOptions =>
  checkRunOptions(opts, '{ baselineBpc?, onProgress?, signal? }');

/** Percentage of the compression gap below 8 bpc that a variant keeps: 100·(8 − bpc)/(8 − baselineBpc); undefined when baselineBpc ≥ 8 (there is no gap). */
export function pctOfGap(bpc: number, baselineBpc: number): number | undefined {
  return baselineBpc < 8 ? (100.0 * (8.0 - bpc)) / (8.0 - baselineBpc) : undefined;
}

/** One neuron of a readout knockout. */
export interface NeuronKnockout {
  /** Neuron index j, 0..H−1. */
  readonly neuron: number;
  /** Position in the ranking, 1 = most important. */
  readonly rank: number;
  /** Mean bpc with this neuron's Wy column zeroed. */
  readonly bpc: number;
  /** bpc − baselineBpc (positive: the neuron helps the prediction). */
  readonly deltaBpc: number;
  /** Euclidean norm of the neuron's Wy column (double sum of float squares, in output order). */
  readonly wyNorm: number;
  /** Mean |h_t[j]| over the text's predictions (double sum in t order). */
  readonly meanAbsH: number;
}

/** Where a knockout acts: the readout only (q3's, the original) or inside the dynamics. */
export type KnockoutSite = 'readout' | 'dynamics';
/** What replaces a knocked-out neuron: 0, or its mean over the base run (rounded to float32). */
export type KnockoutMode = 'zero' | 'mean';

/** Options of {@link ReadoutKnockout} and {@link DynamicsKnockout}. */
export interface KnockoutOptions {
  /**
   * What replaces the neuron (default 'zero'). In the readout, 'zero' removes its Wy column
   * (q3's knockout) and 'mean' reads its mean over the base run instead of h_j; in the
   * dynamics, h_j is set to 0 or to that mean after every step.
   */
  readonly mode?: KnockoutMode;
}

/** Result of {@link ReadoutKnockout} and {@link DynamicsKnockout}. */
export interface KnockoutResult {
  /** Hidden units H. */
  readonly hidden: number;
  /** Predictions evaluated (text length − 1). */
  readonly predictions: number;
  /** Where the knockout acted. */
  readonly site: KnockoutSite;
  /** What replaced the neuron. */
  readonly mode: KnockoutMode;
  /** Mean bpc of the intact model. */
  readonly baselineBpc: number;
  /** One entry per neuron, in index order: `neurons[j].neuron === j`. */
  readonly neurons: readonly NeuronKnockout[];
  /** Neuron indices, most important first (the originals' exchange sort on deltaBpc; ties keep the sort's order). */
  readonly ranking: readonly number[];
}

/** The result of a readout knockout (the name of {@link KnockoutResult} before dynamics knockouts existed). */
export type ReadoutKnockoutResult = KnockoutResult;

/** Importance order: exchange sort of 0..H-1, swapping when delta[b] > delta[a]. */
function rankByDelta(deltas: ArrayLike<number>): number[] {
  return exchangeSort(range(deltas.length), deltas, 'greater');
}

/**
 * A baseline variant first unless the baseline is given: returns the variants and how to read the baseline back.
 * @internal
 */
export function withBaseline(variants: ReadoutVariant[], baselineBpc: number | undefined): { variants: ReadoutVariant[]; own: number; baseline: (mean: Float64Array) => number } {
  if (baselineBpc !== undefined) {
    if (typeof baselineBpc !== 'number' || !Number.isFinite(baselineBpc) || baselineBpc < 0)
      throw new SatrnnError('BAD_OPTION', `baselineBpc must be a finite number >= 0 (got ${String(baselineBpc)})`);
    return { variants, own: 0, baseline: () => baselineBpc };
  }
  return { variants: [{}, ...variants], own: 1, baseline: (mean) => mean[0]! };
}

function checkKnockoutOptions(o: KnockoutOptions | undefined, what: string): KnockoutMode {
  if (o === undefined) return 'zero';
  if (o === null || typeof o !== 'object') throw new SatrnnError('BAD_OPTION', `${what} options must be an object { mode? } (got ${describeValue(o)})`);
  const mode = o.mode ?? 'zero';
  if (mode !== 'zero' && mode !== 'mean') throw new SatrnnError('BAD_OPTION', `${what}: mode must be 'zero' or 'mean' (got ${describeValue(o.mode)})`);
  return mode;
}

/** The batch of a per-neuron knockout at `site` with `mode`. */
function knockoutBatch(site: KnockoutSite, mode: KnockoutMode, hidden: number, baselineBpc: number | undefined): Batch<KnockoutResult> {
  const variant = (j: number): ReadoutVariant =>
    site === 'readout'
      ? mode === 'zero'
        ? { knockout: [j] }
        : { readMean: [j] }
      : { neurons: [mode === 'zero' ? { neuron: j, clamp: 0 } : { neuron: j, mean: true }] };
  const b = withBaseline(range(hidden).map(variant), baselineBpc);
  return batch(b.variants, async (m, an) => knockoutResult(an, site, mode, b.baseline(m), m.subarray(b.own), await an.meanAbsHidden()));
}

/**
 * Knock out each neuron's readout in turn (dynamics unchanged): its Wy column removed
 * (q3's knockout, the default) or, with `mode: 'mean'`, its state read as its mean over
 * the base run. Δbpc ranks the neurons.
 */
export class ReadoutKnockout {
  private readonly mode: KnockoutMode;
  /** @param options - what replaces the neuron (default: its Wy column removed). */
  constructor(options?: KnockoutOptions) {
    this.mode = checkKnockoutOptions(options, 'ReadoutKnockout');
  }
  /** The baseline (unless given) and one knockout per neuron, as a fusable batch. */
  batch(hidden: number, baselineBpc?: number): Batch<KnockoutResult> {
    return knockoutBatch('readout', this.mode, hidden, baselineBpc);
  }
  /** Evaluates the batch on `an` in one pass. */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<KnockoutResult> {
    opts = checkExperimentOptions(opts);
    return runBatch(an, this.batch(an.hidden, opts.baselineBpc), opts);
  }
}

/**
 * Knock out each neuron inside the dynamics in turn: h_j set to 0 (default) or to its mean
 * over the base run after every step, so neither the readout nor the next step sees it (H
 * forward passes, batched across threads). Δbpc ranks the neurons.
 */
export class DynamicsKnockout {
  private readonly mode: KnockoutMode;
  /** @param options - what replaces the neuron (default 0). */
  constructor(options?: KnockoutOptions) {
    this.mode = checkKnockoutOptions(options, 'DynamicsKnockout');
  }
  /** The baseline (unless given) and one knockout per neuron, as a fusable batch. */
  batch(hidden: number, baselineBpc?: number): Batch<KnockoutResult> {
    return knockoutBatch('dynamics', this.mode, hidden, baselineBpc);
  }
  /** Evaluates the batch on `an` (the base run's means first, for mode 'mean'). */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<KnockoutResult> {
    opts = checkExperimentOptions(opts);
    return runBatch(an, this.batch(an.hidden, opts.baselineBpc), opts);
  }
}

function knockoutResult(an: Analysis, site: KnockoutSite, mode: KnockoutMode, baselineBpc: number, knocked: ArrayLike<number>, meanAbsH: Float64Array): KnockoutResult {
  const norms = an.readoutStats().wyNorms;
  const deltas = range(an.hidden).map((j) => knocked[j]! - baselineBpc);
  const ranking = rankByDelta(deltas);
  const rank = new Array<number>(an.hidden);
  ranking.forEach((j, r) => (rank[j] = r + 1));
  const neurons = range(an.hidden).map((j) => ({
    neuron: j,
    rank: rank[j]!,
    bpc: knocked[j]!,
    deltaBpc: deltas[j]!,
    wyNorm: norms[j]!,
    meanAbsH: meanAbsH[j]!,
  }));
  return { hidden: an.hidden, predictions: an.predictions, site, mode, baselineBpc, neurons, ranking };
}

/** The originals' row schedule: 0..20, then every 10th, then H (clipped to H). */
function defaultCounts(hidden: number, from: number): number[] {
  const ks: number[] = [];
  for (let k = from; k <= Math.min(20, hidden); k++) ks.push(k);
  for (let k = 30; k < hidden; k += 10) ks.push(k);
  if (ks[ks.length - 1] !== hidden) ks.push(hidden);
  return ks;
}

function checkRanking(ranking: readonly number[] | undefined, hidden: number, what: string): void {
  if (!Array.isArray(ranking)) throw new SatrnnError('BAD_OPTION', `${what}: ranking must be an array of neuron indices (e.g. ReadoutKnockoutResult.ranking)`);
  const seen = new Set<number>();
  for (const j of ranking) {
    if (!Number.isInteger(j) || j < 0 || j >= hidden || seen.has(j))
      throw new SatrnnError('BAD_OPTION', `${what} ranking: ${String(j)} is not a distinct neuron index in 0..${hidden - 1}`);
    seen.add(j);
  }
}

function checkCounts(counts: readonly number[], max: number, what: string): void {
  if (!Array.isArray(counts)) throw new SatrnnError('BAD_OPTION', `${what}: counts must be an array of integers`);
  for (const k of counts)
    if (!Number.isInteger(k) || k < 0 || k > max)
      throw new SatrnnError('BAD_OPTION', `${what}: count ${String(k)} is outside 0..${max} (the ranking's length)`);
}

/** Options of {@link CumulativeKnockout} and {@link KeepTopK}. */
export interface RankingOptions {
  /** Neurons, most important first: usually ReadoutKnockoutResult.ranking. Distinct indices; may be shorter than H. */
  readonly ranking: readonly number[];
  /** Prefix lengths to evaluate, in the order given (default: the originals' 0..20, 30, 40, …, H; from 1 for keep-top-k). */
  readonly counts?: readonly number[];
}

/** Checks what can be checked without a model (at construction) or against H. */
function checkRankingOptions(o: RankingOptions, what: string, hidden = Number.MAX_SAFE_INTEGER): void {
  if (o === null || typeof o !== 'object') throw new SatrnnError('BAD_OPTION', `${what}: options { ranking, counts? } are required`);
  checkRanking(o.ranking, hidden, what);
  if (o.counts !== undefined) checkCounts(o.counts, o.ranking.length, what);
}

/**
 * The batch of a ranking's prefixes: the checked prefix lengths (default: the originals'
 * schedule from `from`), one variant per length made by `variant` from the prefix (the
 * baseline first unless given), and one row per length made by `row` from its length, bpc
 * and the baseline.
 */
function prefixBatch<R>(
  o: RankingOptions,
  hidden: number,
  baselineBpc: number | undefined,
  from: number,
  what: string,
  variant: (prefix: number[]) => ReadoutVariant,
  row: (k: number, bpc: number, baselineBpc: number) => R,
): Batch<{ baselineBpc: number; rows: R[] }> {
  checkRankingOptions(o, what, hidden);
  const counts = [...(o.counts ?? defaultCounts(hidden, from))];
  checkCounts(counts, o.ranking.length, what);
  const b = withBaseline(
    counts.map((k) => variant(o.ranking.slice(0, k))),
    baselineBpc,
  );
  return batch(b.variants, (mean) => {
    const B = b.baseline(mean);
    return { baselineBpc: B, rows: counts.map((k, i) => row(k, mean[b.own + i]!, B)) };
  });
}

/** One row of a cumulative knockout. */
export interface CumulativeRow {
  /** How many neurons are removed (the first `removed` of the ranking). */
  readonly removed: number;
  /** Mean bpc with those neurons' Wy columns zeroed. */
  readonly bpc: number;
  /** bpc − baselineBpc. */
  readonly deltaBpc: number;
  /** The neurons removed, in ranking order. */
  readonly removedNeurons: readonly number[];
}

/** Result of {@link CumulativeKnockout}. */
export interface CumulativeKnockoutResult {
  /** Mean bpc of the intact model (given or evaluated). */
  readonly baselineBpc: number;
  /** One row per count, in the order of the counts. */
  readonly rows: readonly CumulativeRow[];
}

/** Remove neurons from the readout cumulatively in ranking order; bpc after each count. */
export class CumulativeKnockout {
  /** @param options - the ranking and the counts (checked here; against H when run). */
  constructor(
    /** The options, as given. */
    readonly options: RankingOptions,
  ) {
    checkRankingOptions(options, 'cumulative knockout');
  }
  /** The variants (the baseline first unless given), as a fusable batch. */
  batch(hidden: number, baselineBpc?: number): Batch<CumulativeKnockoutResult> {
    return prefixBatch(this.options, hidden, baselineBpc, 0, 'cumulative knockout', (knockout) => ({ knockout }), (k, bpc, B) => ({
      removed: k,
      bpc,
      deltaBpc: bpc - B,
      removedNeurons: this.options.ranking.slice(0, k),
    }));
  }
  /** Evaluates the batch on `an` in one pass. */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<CumulativeKnockoutResult> {
    opts = checkExperimentOptions(opts);
    return runBatch(an, this.batch(an.hidden, opts.baselineBpc), opts);
  }
}

/** One row of a keep-top-k experiment. */
export interface KeepTopKRow {
  /** How many neurons keep their readout (the first k of the ranking); every other Wy column is zeroed. */
  readonly k: number;
  /** Mean bpc with only those neurons read out. */
  readonly bpc: number;
  /** bpc − baselineBpc. */
  readonly deltaBpc: number;
  /** See {@link pctOfGap}: undefined when baselineBpc ≥ 8. */
  readonly pctOfGap: number | undefined;
}

/** Result of {@link KeepTopK}. */
export interface KeepTopKResult {
  /** Mean bpc of the intact model (given or evaluated). */
  readonly baselineBpc: number;
  /** One row per count, in the order of the counts. */
  readonly rows: readonly KeepTopKRow[];
}

/** Keep only the first k neurons of a ranking in the readout (all other Wy columns zeroed). */
export class KeepTopK {
  /** @param options - the ranking and the counts (checked here; against H when run). */
  constructor(
    /** The options, as given. */
    readonly options: RankingOptions,
  ) {
    checkRankingOptions(options, 'keep-top-k');
  }
  /** The variants (the baseline first unless given), as a fusable batch. */
  batch(hidden: number, baselineBpc?: number): Batch<KeepTopKResult> {
    return prefixBatch(this.options, hidden, baselineBpc, 1, 'keep-top-k', (keepOnly) => ({ keepOnly }), (k, bpc, B) => ({
      k,
      bpc,
      deltaBpc: bpc - B,
      pctOfGap: pctOfGap(bpc, B),
    }));
  }
  /** Evaluates the batch on `an` in one pass. */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<KeepTopKResult> {
    opts = checkExperimentOptions(opts);
    return runBatch(an, this.batch(an.hidden, opts.baselineBpc), opts);
  }
}

/** One neuron of the sign-only test. */
export interface SignOnlyRow {
  /** Neuron index j, 0..H−1. */
  readonly neuron: number;
  /** Position in the sign-only ranking, 1 = largest |deltaBpc|. */
  readonly rank: number;
  /** Mean bpc with only this neuron read as sgn(h_j) in the readout. */
  readonly bpc: number;
  /** bpc − baselineBpc. */
  readonly deltaBpc: number;
  /** Mean |h_t[j]| over the text's predictions. */
  readonly meanAbsH: number;
}

/** Result of {@link SignOnly}. */
export interface SignOnlyResult {
  /** Mean bpc of the intact model (given or evaluated). */
  readonly baselineBpc: number;
  /** One entry per neuron, in index order: `neurons[j].neuron === j`. */
  readonly neurons: readonly SignOnlyRow[];
  /** Neurons by |float32(deltaBpc)|, largest first (the originals' exchange sort). */
  readonly ranking: readonly number[];
}

/** Per neuron: read h_j as sgn(h_j) in the readout, dynamics unchanged. */
export class SignOnly {
  /** One sign snap per neuron (the baseline first unless given), as a fusable batch. */
  batch(hidden: number, baselineBpc?: number): Batch<SignOnlyResult> {
    const b = withBaseline(signVariants(hidden), baselineBpc);
    return batch(b.variants, async (mean, an) => signOnlyResult(b.baseline(mean), mean.subarray(b.own), await an.meanAbsHidden()));
  }
  /** Evaluates the batch on `an` in one pass. */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<SignOnlyResult> {
    opts = checkExperimentOptions(opts);
    return runBatch(an, this.batch(an.hidden, opts.baselineBpc), opts);
  }
}

const signVariants = (hidden: number): ReadoutVariant[] => range(hidden).map((j) => ({ signSnap: [j] }));

function signOnlyResult(baselineBpc: number, mean: ArrayLike<number>, meanAbsH: Float64Array): SignOnlyResult {
  const deltas = Array.from({ length: mean.length }, (_, j) => mean[j]! - baselineBpc);
  // The key is |delta| rounded to float32 first: deltas equal in float tie (q3 §4).
  const key = deltas.map((d) => Math.abs(Math.fround(d)));
  const ranking = exchangeSort(range(deltas.length), key, 'greater');
  const rank = new Array<number>(deltas.length);
  ranking.forEach((j, r) => (rank[j] = r + 1));
  const neurons = deltas.map((deltaBpc, j) => ({ neuron: j, rank: rank[j]!, bpc: mean[j]!, deltaBpc, meanAbsH: meanAbsH[j]! }));
  return { baselineBpc, neurons, ranking };
}

/** An output byte and the Wy weight from a neuron to it. */
export interface ByteWeight {
  /** Output byte 0..255. */
  readonly byte: number;
  /** Wy[byte][neuron] (float32 value). */
  readonly weight: number;
}

/** What one neuron's Wy column says. */
export interface NeuronDecode {
  /** Neuron index j. */
  readonly neuron: number;
  /** The bytes with the largest weights, largest first. */
  readonly promotes: readonly ByteWeight[];
  /** The bytes with the smallest (most negative) weights, smallest first. */
  readonly demotes: readonly ByteWeight[];
}

/** Options of {@link readoutDecode}. */
export interface ReadoutDecodeOptions {
  /** How many promoted and demoted bytes to list (default 5, 1..256). */
  readonly bytes?: number;
}

/**
 * What a neuron's Wy column says: the output bytes it pushes up most and down most.
 * Replays the originals' partial sort (promotes) and the full re-sort of the same,
 * already permuted list (demotes), which decides the order of tied weights.
 */
export function readoutDecode(model: Model, neuron: number, options: ReadoutDecodeOptions = {}): NeuronDecode {
  const { Wy, hidden: H } = model;
  const top = options.bytes ?? 5;
  if (!Number.isInteger(neuron)) throw new SatrnnError('BAD_OPTION', `neuron index ${String(neuron)} is not an integer`);
  if (neuron < 0 || neuron >= H) throw new SatrnnError('BAD_OPTION', `neuron index ${neuron} is out of range 0..${H - 1}`);
  if (!Number.isInteger(top) || top < 1 || top > VOCAB) throw new SatrnnError('BAD_OPTION', `bytes must be an integer in 1..${VOCAB} (got ${String(top)})`);
  const column = new Float32Array(VOCAB);
  for (let o = 0; o < VOCAB; o++) column[o] = Wy[o * H + neuron]!;
  const entry = (o: number): ByteWeight => ({ byte: o, weight: column[o]! });
  // Distinct weights (the usual case): the head of each sort is that of the plain order.
  const keys = new Float64Array(column);
  const sorted = distinctSorted(keys);
  if (sorted) {
    const at = (i: number) => entry(keys.indexOf(sorted[i]!));
    return { neuron, promotes: Array.from({ length: top }, (_, i) => at(VOCAB - 1 - i)), demotes: Array.from({ length: top }, (_, i) => at(i)) };
  }
  const list = exchangeSort(range(VOCAB), column, 'greater', top);
  const promotes = list.slice(0, top).map(entry);
  // Only the first `top` places are read: the exchange sort's pass a writes places >= a, so
  // stopping after pass top - 1 leaves them as the full sort would.
  exchangeSort(list, column, 'less', top);
  return { neuron, promotes, demotes: list.slice(0, top).map(entry) };
}

/** Result of {@link NeuronSuite}: the whole q3 study. */
export interface NeuronSuiteResult {
  /** Hidden units H. */
  readonly hidden: number;
  /** Predictions evaluated (text length − 1). */
  readonly predictions: number;
  /** Mean bpc of the intact model. */
  readonly baselineBpc: number;
  /** Readout knockout of every neuron; its ranking orders the other sections. */
  readonly knockout: ReadoutKnockoutResult;
  /** Cumulative knockout in knockout-ranking order, counts 0..20, 30, 40, …, H. */
  readonly cumulative: CumulativeKnockoutResult;
  /** Keep-top-k in knockout-ranking order, counts 1..20, 30, 40, …, H. */
  readonly keepTopK: KeepTopKResult;
  /** Sign-only readout of every neuron. */
  readonly signOnly: SignOnlyResult;
  /** Readout decodes of the `top` most important neurons, in ranking order. */
  readonly decode: readonly NeuronDecode[];
}

/** Options of {@link NeuronSuite}. */
export interface NeuronSuiteOptions {
  /** How many of the most important neurons get a readout decode (default min(10, H): the originals' 10). */
  readonly top?: number;
}

/**
 * The whole q3 study in two passes: (baseline + H knockouts + H sign snaps), then
 * (cumulative + keep-top-k) once the ranking is known.
 */
export class NeuronSuite {
  /** @param options - how many neurons to decode. */
  constructor(
    /** The options, as given. */
    readonly options: NeuronSuiteOptions = {},
  ) {}

  /** Runs the study; `opts.baselineBpc` is not needed (the first pass evaluates it). */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<NeuronSuiteResult> {
    opts = checkExperimentOptions(opts);
    const H = an.hidden;
    const top = this.options.top ?? Math.min(10, H); // the originals' 10, or every neuron of a smaller model
    if (!Number.isInteger(top) || top < 0 || top > H) throw new SatrnnError('BAD_OPTION', `top must be an integer in 0..${H} (got ${String(top)})`);
    const cumCounts = defaultCounts(H, 0);
    const keepCounts = defaultCounts(H, 1);
    const total = (opts.baselineBpc === undefined ? 1 : 0) + 2 * H + cumCounts.length + keepCounts.length;
    // Progress in variants: each pass reports its share of the whole study.
    const progress = (offset: number, size: number) => (done: number, all: number) =>
      opts.onProgress?.(offset + (all > 0 ? Math.round((size * done) / all) : 0), total);
    // One pass: the baseline (unless given), every knockout and every sign snap; both
    // results are read against the same baseline.
    const b = withBaseline([...range(H).map((j): ReadoutVariant => ({ knockout: [j] })), ...signVariants(H)], opts.baselineBpc);
    const first = b.variants.length;
    const [knockout, signOnly] = await runBatch(
      an,
      batch(b.variants, async (m, a) => {
        const B = b.baseline(m);
        const meanAbsH = await a.meanAbsHidden();
        return [knockoutResult(a, 'readout', 'zero', B, m.subarray(b.own, b.own + H), meanAbsH), signOnlyResult(B, m.subarray(b.own + H), meanAbsH)] as const;
      }),
      { ...opts, onProgress: progress(0, first) },
    );
    const B = knockout.baselineBpc;
    const cum = new CumulativeKnockout({ ranking: knockout.ranking, counts: cumCounts });
    const keep = new KeepTopK({ ranking: knockout.ranking, counts: keepCounts });
    const second = runBatch(an, fuse(cum.batch(H, B), keep.batch(H, B)), {
      ...opts,
      onProgress: progress(first, cumCounts.length + keepCounts.length),
    });
    // The decodes need only the ranking: computed on the event loop's next turn, by when the
    // second pass has been handed to the native threads (they then overlap it).
    let decode: NeuronDecode[];
    try {
      decode = await new Promise<NeuronDecode[]>((resolve, reject) =>
        setImmediate(() => {
          try {
            resolve(knockout.ranking.slice(0, top).map((j) => readoutDecode(an.model, j)));
          } catch (err) {
            reject(err);
          }
        }),
      );
    } catch (err) {
      await second.catch(() => undefined); // (no unhandled rejection behind the first error)
      throw err;
    }
    const [cumulative, keepTopK] = await second;
    return {
      hidden: H,
      predictions: an.predictions,
      baselineBpc: B,
      knockout,
      cumulative,
      keepTopK,
      signOnly,
      decode,
    };
  }
}
