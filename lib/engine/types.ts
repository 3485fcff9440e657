// The engine's request and result types: one shape for both transports (the native addon
// and the js backend's worker threads), so a field means the same thing everywhere.

/** A backend's kind: the C++ addon (`'native'`) or the TypeScript implementation (`'js'`). */
export type BackendName = 'native' | 'js';
/** Code path: the native addon's AVX-512, AVX2, SSE2 or portable loops, or TypeScript. */
export type Isa = 'avx512' | 'avx2' | 'sse2' | 'scalar' | 'js';

/**
 * How a readout variant reads neuron j (native/kernels/readout.h `Use`): the term is
 * removed (Wy column zeroed), read as h_j, as sgn(h_j) (+1 for h >= 0, also -0; else -1),
 * or as -h_j.
 */
export const USE = {
  /** Term j removed from every logit (the Wy column read as zero). */
  absent: 0,
  /** h_j as is (the unmodified readout). */
  value: 1,
  /** sgn(h_j): +1 for h_j >= 0 (also -0), else -1. */
  sign: 2,
  /** -h_j. */
  negated: 3,
  /** A fixed value instead of h_j: the group's `useValues[v*H + j]` (float32; e.g. the neuron's mean). */
  fixed: 4,
} as const;
/** One of the {@link USE} codes (0-4). */
export type UseCode = (typeof USE)[keyof typeof USE];

/** What the dynamics do to neuron j after every step (native/kernels/dynamics.h `NeuronMode`). */
export const NEURON = {
  /** Untouched. */
  free: 0,
  /** h_j set to its clamp value after every step (0: a full ablation). */
  clamp: 1,
  /** h_j set to +1 if h_j >= 0 (also -0), else -1, after every step. */
  sign: 2,
} as const;

/**
 * 'certified' (default): full sums once per position, variants derived by exact updates
 * where a certificate proves them exact, ordered sums elsewhere. 'ordered': every logit
 * summed literally as the spec says. Both give identical bits; 'ordered' is the reference.
 */
export type ReadoutMethod = 'ordered' | 'certified';

/** Per-neuron trajectory statistics, accumulated across chunks (in/out). */
export interface StatsAccumulators {
  /** Sum of h_t[j] over t in double, in t order (the signed mean = sum / steps). */
  sum: Float64Array;
  /** Sum of |h_t[j]| over t in double, in t order (mean |h| = sumAbs / steps). */
  sumAbs: Float64Array;
  /** The same sum in float32 (q4_saturation's sumabs). */
  sumAbsF32: Float32Array;
  /** Smallest |h_t[j]| (starts at 2). */
  minAbs: Float32Array;
  /** Steps with |h_t[j]| >= 0.999f. */
  saturated: Uint32Array;
  /** Steps t > 0 where the sign (h >= 0) differs from step t - 1. */
  flips: Uint32Array;
  /** Sign of the last state seen (1: h >= 0). */
  lastSign: Uint8Array;
}

/**
 * One group of a chunk: a variant of the dynamics (or given states) and the readout
 * variants read from it. Arrays marked in/out are updated in place.
 */
export interface ChunkGroup {
  /** The variant's weights, weight edits already applied (its Wy/by serve the readout). */
  weights: Float32Array;
  /** Given states `[steps*H]` (`states[t*H + i]`): no dynamics for this group. */
  states?: Float32Array;
  /** The carried state `[H]` (in/out): before the chunk's first byte, then after its last. */
  state?: Float32Array;
  /** Steps this variant took in earlier chunks (sign flips at the chunk's first step need it). */
  stepsBefore?: number;
  /** {@link NEURON} codes, one per neuron `[H]` (absent: every neuron free). */
  mode?: Uint8Array;
  /** Clamp values `[H]`, read where `mode` is `NEURON.clamp` (required with `mode`). */
  value?: Float32Array;
  /** Ascending absolute positions whose input byte is replaced (integers stored as doubles). */
  substPos?: Float64Array;
  /** The bytes fed at `substPos`, one per position (same length). */
  substByte?: Uint8Array;
  /**
   * Activation patches: ascending, distinct absolute positions (integers stored as doubles)
   * where the neurons `patchNeurons` are set to `patchValues` after the step, after `mode`
   * (the patch wins), so the readout there and the next step see the patched values.
   * `patchNeurons` and `patchValues` come with it.
   */
  patchPos?: Float64Array;
  /** The patched neurons `[K]`, distinct, each below H. */
  patchNeurons?: Uint32Array;
  /**
   * The patched values `[P*K]`, finite (any magnitude): `patchValues[p*K + k]` is neuron
   * `patchNeurons[k]` at position `patchPos[p]`.
   */
  patchValues?: Float32Array;
  /** Trajectory statistics of this group's dynamics, updated in place (in/out). */
  stats?: StatsAccumulators;
  /**
   * The group starts at chunk position `from` (default 0): its dynamics run from `state`
   * over positions from .. steps-1 (output rows before `from` are not written) and its
   * readout skips the positions before it.
   */
  from?: number;
  /**
   * The states of the positions before `from`, `[from*H]` (e.g. the base run's, for a
   * variant that differs from there on), read out as the group's own.
   */
  prefix?: Float32Array;
  /** Output: the states `[steps*H]` (`statesOut[t*H + i]`: unit i after input t). */
  statesOut?: Float32Array;
  /** Output: the pre-activations z `[steps*H]` (before tanh and before any intervention). */
  preOut?: Float32Array;
  /** Readout variants: {@link USE} codes `[V*H]` (`use[v*H + j]`: how variant v reads neuron j). */
  use?: Uint8Array;
  /** The values read where `use` is `USE.fixed`, `[V*H]` (finite; required when a code is `USE.fixed`). */
  useValues?: Float32Array;
  /** Running sums of bits per readout variant `[V]` (in/out), added in t order; required with `use`. */
  totals?: Float64Array;
  /** Output: the bits of every prediction `[V*steps]` (`bitsOut[v*steps + t]`). */
  bitsOut?: Float64Array;
  /** Read out only where `select[t] != 0` (and t >= from); `[steps]`. */
  select?: Uint8Array;
  /**
   * Output: the probability rows (00-common §4) of the P positions read out, in order,
   * `[V*P*256]` (`probsOut[(v*P + p)*256 + o]`).
   */
  probsOut?: Float64Array;
}

/** One chunk of engine work: positions pos0 .. pos0+steps-1 of a text. */
export interface ChunkRequest {
  /** H, the model's hidden units (every group's weights have `paramCount(hidden)` floats). */
  hidden: number;
  /** The chunk's input bytes, then (when a group reads out) the next byte: targets are `bytes[1..steps]`. */
  bytes: Uint8Array;
  /** Absolute position of the chunk's first input in the text (input substitutions use absolute positions). */
  pos0: number;
  /** Positions in the chunk: inputs fed, and predictions read out. */
  steps: number;
  /** How the readouts sum their logits. */
  method: ReadoutMethod;
  /** The groups, each run on the same bytes. */
  groups: ChunkGroup[];
}

/** What a chunk reports besides the arrays it wrote. */
export interface ChunkResult {
  /**
   * True when every readout used the certified sums; false with method 'ordered', or when
   * some group's states left [-1, 1] and its readout used the ordered sums.
   */
  certified: boolean;
  /** Logits the certificate did not cover, re-summed in order. */
  fallbacks: number;
}

/** Progress and cancellation of a long operation. */
export interface RunOptions {
  /** Called with (done, total) work units as the work advances. */
  onProgress?: (done: number, total: number) => void;
  /** Aborts the operation: its promise rejects with `SatrnnError('ABORTED')`. */
  signal?: AbortSignal;
}

/** Hyper-parameters of one training epoch (sat_train.md, generalised). */
export interface TrainEpochParams {
  /** Predictions per truncated-BPTT window (original: 50). */
  bptt: number;
  /** Peak learning rate `lr` of the cosine schedule (original: 0.01f); float32. */
  lr: number;
  /** Global gradient-norm clipping threshold (original: 5); float32. */
  clip: number;
  /**
   * Use the fast, non-exact kernels (FMA, reassociated sums; a helper thread when the
   * backend has 2+ threads, with the same bytes as one thread) where the backend has them
   * (native on AVX2+FMA CPUs); elsewhere the exact kernels run.
   */
  fast?: boolean;
}

/** Per-model readout statistics, from {@link Backend.readoutStats}. */
export interface ReadoutStats {
  /** |Wy column j| for every neuron, `[H]`: sqrt of the double sum over o in order of float(Wy[o][j]²) (as {@link wyColumnNorms}). */
  readonly wyNorms: Float64Array;
  /** The largest |w| among Wy and by. */
  readonly maxAbs: number;
  /** How many weights of Wy and by are subnormal (0 < |w| < 2^-126). */
  readonly subnormal: number;
}

/**
 * What every backend computes, bit for bit the same: the engine's chunk primitive (the
 * dynamics of a batch of variants and their readouts; lib/engine/evaluate.ts drives it
 * over a text chunk by chunk), training, and per-model readout statistics.
 */
export interface Backend {
  /** Which implementation this is. */
  readonly name: BackendName;
  /** The code path it runs: `'js'` for the js backend. */
  readonly isa: Isa;
  /** Threads it uses for a chunk's work (native threads or js worker threads). */
  readonly threads: number;
  /**
   * Runs one chunk: every group's dynamics (unless it has given states), then its readout
   * variants; writes the groups' outputs and in/out arrays in place.
   *
   * @throws SatrnnError `BAD_OPTION` for a malformed request, `ABORTED` when `opts.signal` fires
   */
  runChunk(req: ChunkRequest, opts?: RunOptions): Promise<ChunkResult>;
  /** One training epoch at learning rate `epochLr` (this epoch's value of the schedule); updates `weights` in place, returns the training bpc. */
  trainEpoch(weights: Float32Array, hidden: number, data: Uint8Array, epochLr: number, params: TrainEpochParams, signal?: AbortSignal): Promise<number>;
  /** The trainer's float evaluation (bpc) of weights on data (fast kernels on request, as trainEpoch). */
  evalBpc(weights: Float32Array, hidden: number, data: Uint8Array, opts?: { fast?: boolean }): Promise<number>;
  /** Whether `fast: true` really selects faster, non-exact training kernels here. */
  readonly fastTraining: boolean;
  /**
   * Per-model readout statistics of `Wy` (256·H floats, row-major) and `by` (256 floats); the
   * same doubles on every backend. Optional for a backend of your own: an Analysis computes
   * them in TypeScript without it.
   *
   * @throws SatrnnError `BAD_OPTION` for arrays of other types or lengths
   */
  readoutStats?(Wy: Float32Array, by: Float32Array): ReadoutStats;
}
