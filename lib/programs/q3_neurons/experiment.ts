// Readout experiments (q3 family): the dynamics run once; only what the readout sees changes.
// Each experiment lists its variants as a Batch and assembles its result from their bpc,
// so a suite fuses several experiments' batches into one pass (lib/programs/batch.ts).
import type { Analysis, Variant as ReadoutVariant } from '../../analysis.js';
import { wyColumnNorms } from '../../engine/model-stats.js';
import type { RunOptions } from '../../engine/types.js';
import { SatrnnError } from '../../errors.js';
import { VOCAB } from '../../model.js';
import { exchangeSort, range } from '../../util/exchangeSort.js';
import { batch, fuse, runBatch, type Batch } from '../batch.js';

export interface NeuronKnockout {
  neuron: number;
  /** Mean bpc with this neuron's Wy column zeroed. */
  knockoutBpc: number;
  /** knockoutBpc - baseline (positive: the neuron helps). */
  delta: number;
  /** Euclidean norm of the neuron's Wy column. */
  wyNorm: number;
  /** Mean |h_t[j]| over the text. */
  meanAbsH: number;
}

export interface ReadoutKnockoutResult {
  baseline: number;
  /** One entry per neuron, in index order. */
  neurons: NeuronKnockout[];
  /** Neuron indices, most important first (the originals' exchange sort on delta). */
  ranking: number[];
}

/** Importance order: exchange sort of 0..H-1, swapping when delta[b] > delta[a]. */
export function rankByDelta(deltas: ArrayLike<number>): number[] {
  return exchangeSort(range(deltas.length), (b, a) => deltas[b]! > deltas[a]!);
}

/** Knock out each neuron's readout column in turn; Δbpc ranks the neurons. */
export class ReadoutKnockout {
  /** The baseline and one knockout per neuron. */
  batch(hidden: number): Batch<ReadoutKnockoutResult> {
    const variants: ReadoutVariant[] = [{}, ...range(hidden).map((j) => ({ knockout: [j] }))];
    return batch(variants, async (m, an) => knockoutResult(an, m[0]!, m.subarray(1), await an.meanAbsHidden()));
  }
  async run(an: Analysis, opts: RunOptions = {}): Promise<ReadoutKnockoutResult> {
    return runBatch(an, this.batch(an.hidden), opts);
  }
}

function knockoutResult(an: Analysis, baseline: number, knocked: ArrayLike<number>, meanAbsH: Float64Array): ReadoutKnockoutResult {
  const norms = wyColumnNorms(an.model);
  const neurons = range(an.hidden).map((j) => ({
    neuron: j,
    knockoutBpc: knocked[j]!,
    delta: knocked[j]! - baseline,
    wyNorm: norms[j]!,
    meanAbsH: meanAbsH[j]!,
  }));
  return { baseline, neurons, ranking: rankByDelta(neurons.map((n) => n.delta)) };
}

/** The originals' row schedule: 0..20, then every 10th, then H (clipped to H). */
export function defaultCounts(hidden: number, from: number): number[] {
  const ks: number[] = [];
  for (let k = from; k <= Math.min(20, hidden); k++) ks.push(k);
  for (let k = 30; k < hidden; k += 10) ks.push(k);
  if (ks[ks.length - 1] !== hidden) ks.push(hidden);
  return ks;
}

function checkOrder(order: readonly number[], hidden: number, what: string): void {
  const seen = new Set<number>();
  for (const j of order) {
    if (!Number.isInteger(j) || j < 0 || j >= hidden || seen.has(j))
      throw new SatrnnError('BAD_OPTION', `${what}: ${j} is not a distinct neuron index in 0..${hidden - 1}`);
    seen.add(j);
  }
}

function checkCounts(counts: readonly number[], max: number, min: number, what: string): void {
  for (const k of counts)
    if (!Number.isInteger(k) || k < min || k > max)
      throw new SatrnnError('BAD_OPTION', `${what}: count ${k} is outside ${min}..${max}`);
}

export interface CumulativeRow {
  removed: number;
  bpc: number;
  delta: number;
  /** The neurons removed so far, in removal order. */
  removedNeurons: number[];
}

export interface CountsOptions {
  /** Neuron order (most important first), e.g. ReadoutKnockoutResult.ranking. */
  order: readonly number[];
  /** Which prefix lengths to evaluate (default: 0..20, 30, 40, ..., H for cumulative). */
  counts?: readonly number[];
}

/**
 * The checked prefix lengths of an order (default: the originals' schedule from `from`) and
 * one variant per length, made by `variant` from the prefix.
 */
function prefixVariants(
  o: CountsOptions,
  hidden: number,
  from: number,
  what: string,
  variant: (prefix: number[]) => ReadoutVariant,
): { counts: number[]; variants: ReadoutVariant[] } {
  checkOrder(o.order, hidden, `${what} order`);
  const counts = [...(o.counts ?? defaultCounts(hidden, from))];
  checkCounts(counts, o.order.length, 0, what);
  return { counts, variants: counts.map((k) => variant(o.order.slice(0, k))) };
}

/** Remove neurons cumulatively in the given order; bpc after each count. */
export class CumulativeKnockout {
  constructor(readonly options: CountsOptions) {}
  variants(hidden: number): { counts: number[]; variants: ReadoutVariant[] } {
    return prefixVariants(this.options, hidden, 0, 'cumulative knockout', (knockout) => ({ knockout }));
  }
  batch(hidden: number, baseline: number): Batch<CumulativeRow[]> {
    const { counts, variants } = this.variants(hidden);
    return batch(variants, (mean) =>
      counts.map((k, i) => ({ removed: k, bpc: mean[i]!, delta: mean[i]! - baseline, removedNeurons: this.options.order.slice(0, k) })),
    );
  }
  async run(an: Analysis, baseline: number, opts: RunOptions = {}): Promise<CumulativeRow[]> {
    return runBatch(an, this.batch(an.hidden, baseline), opts);
  }
}

export interface KeepTopKRow {
  kept: number;
  bpc: number;
  /** Share of the compression gain over 8 bpc that the kept neurons retain: 100·(8 − b)/(8 − B). */
  pctOfGain: number;
}

/** Keep only the first k neurons of an order (all other Wy columns zeroed). */
export class KeepTopK {
  constructor(readonly options: CountsOptions) {}
  variants(hidden: number): { counts: number[]; variants: ReadoutVariant[] } {
    return prefixVariants(this.options, hidden, 1, 'keep-top-k', (keepOnly) => ({ keepOnly }));
  }
  batch(hidden: number, baseline: number): Batch<KeepTopKRow[]> {
    const { counts, variants } = this.variants(hidden);
    return batch(variants, (mean) => counts.map((k, i) => ({ kept: k, bpc: mean[i]!, pctOfGain: (100.0 * (8.0 - mean[i]!)) / (8.0 - baseline) })));
  }
  async run(an: Analysis, baseline: number, opts: RunOptions = {}): Promise<KeepTopKRow[]> {
    return runBatch(an, this.batch(an.hidden, baseline), opts);
  }
}

export interface SignOnlyRow {
  neuron: number;
  bpc: number;
  /** bpc − baseline with only this neuron read as its sign. */
  delta: number;
  meanAbsH: number;
}

export interface SignOnlyResult {
  /** Index order. */
  neurons: SignOnlyRow[];
  /** Neurons by |float32(delta)|, largest first (the originals' exchange sort). */
  order: number[];
}

/** Per neuron: read h_j as sgn(h_j) in the readout, dynamics unchanged. */
export class SignOnly {
  /** One sign snap per neuron; without a baseline, the batch evaluates its own first (the same bits). */
  batch(hidden: number, baseline?: number): Batch<SignOnlyResult> {
    const own = baseline === undefined ? 1 : 0;
    return batch(
      [...(own ? [{}] : []), ...range(hidden).map((j) => ({ signSnap: [j] }))],
      async (mean, an) => this.result(mean.subarray(own), baseline ?? mean[0]!, await an.meanAbsHidden()),
    );
  }
  private result(mean: ArrayLike<number>, baseline: number, meanAbsH: Float64Array): SignOnlyResult {
    const neurons = Array.from({ length: mean.length }, (_, j) => ({
      neuron: j,
      bpc: mean[j]!,
      delta: mean[j]! - baseline,
      meanAbsH: meanAbsH[j]!,
    }));
    // The key is |delta| rounded to float32 first: deltas equal in float tie (q3 §4).
    const key = neurons.map((n) => Math.abs(Math.fround(n.delta)));
    return { neurons, order: exchangeSort(range(neurons.length), (b, a) => key[b]! > key[a]!) };
  }
  /** Deltas against `baseline` when given, else against a baseline evaluated in the same pass. */
  async run(an: Analysis, baseline?: number, opts: RunOptions = {}): Promise<SignOnlyResult> {
    return runBatch(an, this.batch(an.hidden, baseline), opts);
  }
}

export interface ByteWeight {
  byte: number;
  weight: number;
}

export interface NeuronDecode {
  neuron: number;
  promotes: ByteWeight[];
  demotes: ByteWeight[];
}

/**
 * What a neuron's Wy column says: the output bytes it pushes up most and down most.
 * Replays the originals' partial sort (promotes) and the full re-sort of the same,
 * already permuted list (demotes), which decides the order of tied weights.
 */
export function readoutDecode(an: { model: Analysis['model'] }, neuron: number, top = 5): NeuronDecode {
  const { Wy, hidden: H } = an.model;
  if (!Number.isInteger(neuron)) throw new SatrnnError('BAD_OPTION', `neuron index ${neuron} is not an integer`);
  if (neuron < 0 || neuron >= H) throw new SatrnnError('BAD_OPTION', `neuron index ${neuron} is out of range 0..${H - 1}`);
  if (!Number.isInteger(top) || top < 1 || top > VOCAB)
    throw new SatrnnError('BAD_OPTION', `top must be an integer in 1..${VOCAB}`);
  const list: ByteWeight[] = range(VOCAB).map((o) => ({ byte: o, weight: Wy[o * H + neuron]! }));
  exchangeSort(list, (b, a) => b.weight > a.weight, top);
  const promotes = list.slice(0, top).map((x) => ({ ...x }));
  exchangeSort(list, (b, a) => b.weight < a.weight);
  return { neuron, promotes, demotes: list.slice(0, top).map((x) => ({ ...x })) };
}

export interface NeuronSuiteResult {
  hidden: number;
  predictions: number;
  baseline: number;
  knockout: ReadoutKnockoutResult;
  cumulative: CumulativeRow[];
  keepTopK: KeepTopKRow[];
  signOnly: SignOnlyResult;
  decode: NeuronDecode[];
}

export interface NeuronSuiteOptions {
  /** How many of the most important neurons to decode (default 10, or H when H < 10). */
  decodeTop?: number;
}

/**
 * The whole q3 study in two passes: (baseline + H knockouts + H sign snaps), then
 * (cumulative + keep-top-k) once the ranking is known.
 */
export class NeuronSuite {
  constructor(readonly options: NeuronSuiteOptions = {}) {}

  async run(an: Analysis, opts: RunOptions = {}): Promise<NeuronSuiteResult> {
    const H = an.hidden;
    const decodeTop = this.options.decodeTop ?? Math.min(10, H); // the originals' 10, or every neuron of a smaller model
    if (!Number.isInteger(decodeTop) || decodeTop < 0 || decodeTop > H)
      throw new SatrnnError('BAD_OPTION', `decodeTop must be an integer in 0..${H}`);
    const cumCounts = defaultCounts(H, 0);
    const keepCounts = defaultCounts(H, 1);
    const total = 1 + 2 * H + cumCounts.length + keepCounts.length;
    // Progress in variants: each pass reports its share of the whole study.
    const progress = (offset: number, size: number) => (done: number, all: number) =>
      opts.onProgress?.(offset + (all > 0 ? Math.round((size * done) / all) : 0), total);
    const [knockout, signOnly] = await runBatch(an, fuse(new ReadoutKnockout().batch(H), new SignOnly().batch(H)), {
      ...opts,
      onProgress: progress(0, 1 + 2 * H),
    });
    const baseline = knockout.baseline;
    const cum = new CumulativeKnockout({ order: knockout.ranking, counts: cumCounts });
    const keep = new KeepTopK({ order: knockout.ranking, counts: keepCounts });
    const [cumulative, keepTopK] = await runBatch(an, fuse(cum.batch(H, baseline), keep.batch(H, baseline)), {
      ...opts,
      onProgress: progress(1 + 2 * H, cumCounts.length + keepCounts.length),
    });
    return {
      hidden: H,
      predictions: an.predictions,
      baseline,
      knockout,
      cumulative,
      keepTopK,
      signOnly,
      decode: knockout.ranking.slice(0, decodeTop).map((j) => readoutDecode(an, j)),
    };
  }
}
