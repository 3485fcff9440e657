// Interventions: the vocabulary of TransformerLens/pyvene-style experiments on a sat-rnn.
// Readout interventions change only what the readout sees (the dynamics run once and are
// shared); dynamics interventions act inside the recurrence (after every step, so the
// readout and the next step both see them) or on the weights before it runs. A variant is
// a list of interventions applied together; a batch of variants is one Analysis pass
// (variants with the same dynamics share a forward pass).
import type { Analysis, PatchSource, PatchSpec, Variant, VariantNeuron } from '../../analysis.js';
import type { WeightEdit } from '../../engine/edits.js';
import { SatrnnError, describeValue } from '../../errors.js';
import { batch, runBatch, type Batch } from '../batch.js';
import { checkExperimentOptions, pctOfGap, withBaseline, type ExperimentRunOptions } from '../q3_neurons/experiment.js';

/** The neurons an intervention acts on (indices 0 .. H-1). */
type Neurons = readonly number[];

/** An intervention on a list of neurons; what it does depends on `kind` (see {@link Intervention}). */
export interface NeuronListIntervention<K extends NeuronListKind> {
  /** What the intervention does. */
  readonly kind: K;
  /** The neurons it acts on (indices 0 .. H-1; for `keepOnly` the list may be empty). */
  readonly neurons: readonly number[];
}

/** The kinds of {@link NeuronListIntervention}. */
export type NeuronListKind = 'knockout' | 'keepOnly' | 'signSnap' | 'readMean' | 'ablate' | 'meanAblate' | 'binarize';

/**
 * One intervention. Readout (the dynamics run once and are shared): `knockout` (the
 * neurons' Wy columns removed, q3's readout knockout), `keepOnly` (only their columns
 * kept, q3's keep-top-k), `signSnap` (read as sgn(h_j): +1 for h_j >= 0, else -1),
 * `readMean` (read as their mean over the base run, float32: a readout mean ablation).
 * Dynamics (after every step, so the readout and the next step both see it): `ablate`
 * (h_j = 0), `clamp` (h_j = value), `meanAblate` (h_j = its mean over the base run on the
 * evaluated text: a double sum in t order of the float h_j, divided by the number of
 * steps, rounded to float32), `binarize` (h_j = sgn(h_j)), `patch` (h_j at chosen positions
 * from a donor run). Weights: `prune`, `mask`, `cutRecurrent`.
 */
export type Intervention =
  | NeuronListIntervention<NeuronListKind>
  | {
      /** Dynamics: h_j set to `value` after every step. */
      readonly kind: 'clamp';
      /** The neurons (indices 0 .. H-1). */
      readonly neurons: readonly number[];
      /** The value (finite; stored as float32). */
      readonly value: number;
    }
  | {
      /** Weights: entries of Wh or Wx with |w| < threshold zeroed (q5's strict rule, the threshold rounded to float32). */
      readonly kind: 'prune';
      /** The matrix pruned. */
      readonly matrix: 'Wh' | 'Wx';
      /** A finite magnitude >= 0. */
      readonly threshold: number;
    }
  | {
      /** Weights: entries of Wh or Wx whose mask byte is 0 zeroed. */
      readonly kind: 'mask';
      /** The matrix masked. */
      readonly matrix: 'Wh' | 'Wx';
      /** One byte per entry, row-major (H*H for Wh, H*256 for Wx): 0 zeroes the entry. */
      readonly keep: Uint8Array;
    }
  | {
      /** Weights: column j of Wh zeroed (what neuron j sends to every neuron at the next step; neuron_roles' `recurrent`). */
      readonly kind: 'cutRecurrent';
      /** The neuron j, 0 .. H-1. */
      readonly neuron: number;
    }
  | {
      /**
       * Dynamics: h_j at the chosen positions taken from the run of another text and/or another
       * model of the same H (default: this analysis' text and model), after every other
       * intervention of the step.
       */
      readonly kind: 'patch';
      /** The neurons patched (distinct, 0 .. H-1). */
      readonly neurons: readonly number[];
      /** Positions t (state after input t, predicting byte t + 1), ascending; default: every position of the text. Each must exist in the donor run too. */
      readonly positions?: readonly number[];
      /** Where the patched values come from. */
      readonly from: PatchSource;
    };

export type { PatchSource };

/** The kinds that act only on the readout. */
export const READOUT_KINDS: ReadonlySet<Intervention['kind']> = new Set(['knockout', 'keepOnly', 'signSnap', 'readMean']);

const KINDS: ReadonlySet<string> = new Set(['knockout', 'keepOnly', 'signSnap', 'readMean', 'ablate', 'clamp', 'meanAblate', 'binarize', 'prune', 'mask', 'cutRecurrent', 'patch']);

/** A named list of interventions applied together. */
export interface InterventionVariant {
  /** Row label (default: a description built from the interventions, e.g. `ablate 8`). */
  readonly label?: string;
  /** The interventions, applied together (an empty list is the intact model). */
  readonly interventions: readonly Intervention[];
}

/** `ablate 8,12`, `prune Wh<0.5`, … : a short description of one intervention. */
export function describeIntervention(iv: Intervention): string {
  const list = (n: Neurons): string => n.join(',');
  switch (iv.kind) {
    case 'clamp':
      return `clamp ${list(iv.neurons)}=${iv.value}`;
    case 'prune':
      return `prune ${iv.matrix}<${iv.threshold}`;
    case 'mask':
      return `mask ${iv.matrix}`;
    case 'cutRecurrent':
      return `cutRecurrent ${iv.neuron}`;
    case 'patch':
      return `patch ${list(iv.neurons)}${iv.positions ? `@${iv.positions.length} positions` : ''}`;
    default:
      return `${iv.kind} ${list(iv.neurons)}`;
  }
}

/** The label of a variant: its own, or its interventions described (`intact` for none). */
export function variantLabel(v: InterventionVariant): string {
  return v.label ?? (v.interventions.length === 0 ? 'intact' : v.interventions.map(describeIntervention).join(' + '));
}

function checkNeuronList(x: unknown, where: string): Neurons {
  if (!Array.isArray(x) || x.length === 0) throw new SatrnnError('BAD_OPTION', `${where}: neurons must be a non-empty array of neuron indices (got ${describeValue(x)})`);
  return x as Neurons;
}

/**
 * The Analysis variant of a list of interventions (indices are checked against H when the
 * variant is evaluated).
 *
 * @throws SatrnnError `BAD_OPTION` for an unknown kind or a malformed intervention
 */
export function toVariant(interventions: readonly Intervention[], where = 'variant'): Variant {
  if (!Array.isArray(interventions)) throw new SatrnnError('BAD_OPTION', `${where}: interventions must be an array (got ${describeValue(interventions)})`);
  const knockout: number[] = [];
  const signSnap: number[] = [];
  const readMean: number[] = [];
  let keepOnly: number[] | undefined;
  const neurons: VariantNeuron[] = [];
  const edits: WeightEdit[] = [];
  const patch: PatchSpec[] = [];
  interventions.forEach((iv, i) => {
    const at = `${where}, intervention ${i}`;
    if (iv === null || typeof iv !== 'object' || !KINDS.has((iv as { kind?: unknown }).kind as string))
      throw new SatrnnError('BAD_OPTION', `${at}: expected { kind: ${[...KINDS].map((k) => `'${k}'`).join(' | ')}, … } (got ${describeValue(iv)})`);
    switch (iv.kind) {
      case 'knockout':
        knockout.push(...checkNeuronList(iv.neurons, at));
        break;
      case 'keepOnly':
        if (keepOnly) throw new SatrnnError('BAD_OPTION', `${at}: keepOnly given twice in one variant`);
        if (!Array.isArray(iv.neurons)) throw new SatrnnError('BAD_OPTION', `${at}: keepOnly neurons must be an array (it may be empty: no readout term kept)`);
        keepOnly = [...iv.neurons];
        break;
      case 'signSnap':
        signSnap.push(...checkNeuronList(iv.neurons, at));
        break;
      case 'readMean':
        readMean.push(...checkNeuronList(iv.neurons, at));
        break;
      case 'ablate':
        for (const j of checkNeuronList(iv.neurons, at)) neurons.push({ neuron: j, clamp: 0 });
        break;
      case 'clamp':
        if (typeof iv.value !== 'number' || !Number.isFinite(iv.value)) throw new SatrnnError('BAD_OPTION', `${at}: clamp value must be a finite number (got ${describeValue(iv.value)})`);
        for (const j of checkNeuronList(iv.neurons, at)) neurons.push({ neuron: j, clamp: iv.value });
        break;
      case 'meanAblate':
        for (const j of checkNeuronList(iv.neurons, at)) neurons.push({ neuron: j, mean: true });
        break;
      case 'binarize':
        for (const j of checkNeuronList(iv.neurons, at)) neurons.push({ neuron: j, sign: true });
        break;
      case 'prune':
        edits.push({ matrix: iv.matrix, threshold: iv.threshold });
        break;
      case 'mask':
        edits.push({ matrix: iv.matrix, keep: iv.keep });
        break;
      case 'cutRecurrent':
        edits.push({ whColumn: iv.neuron });
        break;
      case 'patch':
        if (iv.from === null || typeof iv.from !== 'object') throw new SatrnnError('BAD_OPTION', `${at}: patch needs from: { data?, model? } (the donor run)`);
        patch.push({ neurons: checkNeuronList(iv.neurons, at), ...(iv.positions !== undefined ? { positions: iv.positions } : {}), from: iv.from });
        break;
    }
  });
  return {
    ...(knockout.length ? { knockout } : {}),
    ...(keepOnly ? { keepOnly } : {}),
    ...(signSnap.length ? { signSnap } : {}),
    ...(readMean.length ? { readMean } : {}),
    ...(neurons.length ? { neurons } : {}),
    ...(edits.length ? { edits } : {}),
    ...(patch.length ? { patch } : {}),
  };
}

/** Options of {@link Interventions}. */
export interface InterventionsOptions {
  /** The variants: each a list of interventions applied together, or `{ label, interventions }`. */
  readonly variants: readonly (InterventionVariant | readonly Intervention[])[];
  /**
   * Also return the bits of every prediction of each variant: `true` for every position, or
   * a range `{ from, to }` of positions (from inclusive, to exclusive), kept in memory.
   */
  readonly bits?:
    | boolean
    | {
        /** First position (inclusive). */
        readonly from: number;
        /** Last position (exclusive; clipped to the text's end). */
        readonly to: number;
      };
}

/** One variant's result. */
export interface InterventionRow {
  /** The variant's label. */
  readonly label: string;
  /** The interventions applied. */
  readonly interventions: readonly Intervention[];
  /** `readout` when every intervention acts on the readout only (the base dynamics), else `dynamics`. */
  readonly acts: 'readout' | 'dynamics';
  /** Mean bpc of the variant. */
  readonly bpc: number;
  /** bpc − baselineBpc. */
  readonly deltaBpc: number;
  /** Percentage of the compression gap kept, 100·(8 − bpc)/(8 − baselineBpc); undefined when baselineBpc ≥ 8. */
  readonly pctOfGap: number | undefined;
  /** Bits of each prediction in the requested range (`bits[t - from]`), with the `bits` option. */
  readonly bits?: Float64Array;
}

/** Result of {@link Interventions}. */
export interface InterventionsResult {
  /** Mean bpc of the intact model. */
  readonly baselineBpc: number;
  /** Predictions evaluated (text length − 1). */
  readonly predictions: number;
  /** First position of each row's `bits` (with the `bits` option). */
  readonly bitsFrom?: number;
  /** One row per variant, in the order given. */
  readonly rows: readonly InterventionRow[];
}

/**
 * A batch of intervention variants evaluated in one pass over the text (variants with the
 * same dynamics share a forward pass; readout-only variants share the base run).
 */
export class Interventions {
  private readonly variants: readonly InterventionVariant[];
  private readonly bits: InterventionsOptions['bits'];

  /** @throws SatrnnError `BAD_OPTION` for malformed variants (indices are checked against H when run) */
  constructor(options: InterventionsOptions) {
    if (options === null || typeof options !== 'object' || !Array.isArray(options.variants))
      throw new SatrnnError('BAD_OPTION', `new Interventions({ variants }) takes an array of variants (got ${describeValue(options)})`);
    if (options.variants.length === 0) throw new SatrnnError('BAD_OPTION', 'Interventions: variants is empty; give at least one list of interventions');
    this.variants = options.variants.map((v, i) => {
      const iv: InterventionVariant = Array.isArray(v) ? { interventions: v as readonly Intervention[] } : (v as InterventionVariant);
      if (iv === null || typeof iv !== 'object' || !Array.isArray(iv.interventions))
        throw new SatrnnError('BAD_OPTION', `variant ${i} must be a list of interventions or { label?, interventions } (got ${describeValue(v)})`);
      if (iv.label !== undefined && typeof iv.label !== 'string') throw new SatrnnError('BAD_OPTION', `variant ${i}: label must be a string`);
      toVariant(iv.interventions, `variant ${i}`);
      return iv;
    });
    const b = options.bits;
    if (b !== undefined && typeof b !== 'boolean') {
      if (b === null || typeof b !== 'object' || !Number.isInteger(b.from) || !Number.isInteger(b.to) || b.from < 0 || b.to <= b.from)
        throw new SatrnnError('BAD_OPTION', `bits must be true or a range { from, to } of positions with 0 <= from < to (got ${describeValue(b)})`);
    }
    this.bits = b;
  }

  /** The baseline (unless given) and one variant per entry, as a fusable batch (mean bpc only; `bits` needs {@link Interventions.run}). */
  batch(baselineBpc?: number): Batch<InterventionsResult> {
    const b = this.withBaseline(baselineBpc);
    return batch(b.variants, (m, an) => this.result(an, b.baseline(m), m.subarray(b.own)));
  }

  /** The Analysis variants, the baseline's first unless it is given. */
  private withBaseline(baselineBpc: number | undefined): ReturnType<typeof withBaseline> {
    return withBaseline(
      this.variants.map((v, i) => toVariant(v.interventions, `variant ${i}`)),
      baselineBpc,
    );
  }

  private result(an: Analysis, baselineBpc: number, bpc: ArrayLike<number>, bits?: (Float64Array | undefined)[], bitsFrom?: number): InterventionsResult {
    const rows = this.variants.map((v, i) => ({
      label: variantLabel(v),
      interventions: v.interventions,
      acts: v.interventions.every((x) => READOUT_KINDS.has(x.kind)) ? ('readout' as const) : ('dynamics' as const),
      bpc: bpc[i]!,
      deltaBpc: bpc[i]! - baselineBpc,
      pctOfGap: pctOfGap(bpc[i]!, baselineBpc),
      ...(bits?.[i] ? { bits: bits[i] } : {}),
    }));
    return { baselineBpc, predictions: an.predictions, ...(bitsFrom !== undefined ? { bitsFrom } : {}), rows };
  }

  /**
   * Evaluates every variant on `an` in one pass (plus a pass for the base run's means when a
   * variant mean-ablates, and one per patch donor).
   *
   * @throws SatrnnError `BAD_OPTION` for neuron indices out of range, a patch donor of another
   *   H or positions past the donor text's end; `ABORTED`
   */
  async run(an: Analysis, opts: ExperimentRunOptions = {}): Promise<InterventionsResult> {
    opts = checkExperimentOptions(opts);
    if (this.bits === undefined || this.bits === false) return runBatch(an, this.batch(opts.baselineBpc), opts);
    const b = this.withBaseline(opts.baselineBpc);
    const range = this.bits === true ? undefined : this.bits;
    const r = await an.evaluateVariants(b.variants, { ...opts, bits: range ?? true });
    return this.result(an, b.baseline(r.mean), r.mean.subarray(b.own), r.bits!.slice(b.own), range?.from ?? 0);
  }
}
