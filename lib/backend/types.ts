import type { Model } from '../model.js';

export type BackendName = 'native' | 'js';
export type Isa = 'avx2' | 'scalar' | 'js';

/** Hidden states of one run: states[t*H + i] is unit i after feeding bytes[t]. */
export interface Trajectory {
  readonly hidden: number;
  readonly steps: number;
  readonly states: Float32Array;
}

/**
 * A batch of readout variants over one trajectory. Variant v keeps neuron j's readout term
 * when keep[v*H + j] is 1 and, where snap[v*H + j] is 1, reads h_t[j] as its sign (+1/-1).
 */
export interface ReadoutRequest {
  model: Model;
  states: Float32Array;
  /** targets[t] is the byte predicted from states row t. */
  targets: Uint8Array;
  keep: Uint8Array;
  snap?: Uint8Array;
  /** Also return the bits of every prediction (V*T doubles). */
  bits?: boolean;
  /**
   * 'certified' (default): full sums once per position, variants derived by exact updates
   * where a certificate proves them exact, ordered sums elsewhere. 'ordered': every logit
   * summed literally as the spec says. Both give identical bits; 'ordered' is the reference.
   */
  method?: ReadoutMethod;
}

export type ReadoutMethod = 'ordered' | 'certified';

export interface ReadoutResult {
  /** Mean bits per character of each variant (00-common §5). */
  mean: Float64Array;
  bits?: Float64Array;
  /** The method actually used ('certified' falls back to 'ordered' for states with |h| > 1). */
  method: ReadoutMethod;
  /** Logits (variant × position × output) that the certificate did not cover and were re-summed in order. */
  fallbacks: number;
}

export interface RunOptions {
  /** Called with (done, total) as variants finish. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Hyper-parameters of one training epoch (sat_train.md, generalised). */
export interface TrainEpochParams {
  /** Predictions per truncated-BPTT window (original: 50). */
  bptt: number;
  /** Peak learning rate of the cosine schedule (original: 0.01f); float32. */
  lrPeak: number;
  /** Global gradient-norm clipping threshold (original: 5); float32. */
  clip: number;
  /**
   * Use the fast, non-exact kernels (FMA, reassociated sums; a helper thread when the
   * backend has 2+ threads, with the same bytes as one thread) where the backend has them
   * (native on AVX2+FMA CPUs); elsewhere the exact kernels run.
   */
  fast?: boolean;
}

/** What every backend computes, bit for bit the same. */
export interface Backend {
  readonly name: BackendName;
  readonly isa: Isa;
  readonly threads: number;
  /** Feeds bytes from h0 (default all +0.0) and returns the state after each byte. */
  forward(model: Model, bytes: Uint8Array, h0?: Float32Array): Promise<Trajectory>;
  readout(req: ReadoutRequest, opts?: RunOptions): Promise<ReadoutResult>;
  /** One training epoch at learning rate `lr`; updates `weights` in place, returns the training bpc. */
  trainEpoch(weights: Float32Array, hidden: number, data: Uint8Array, lr: number, params: TrainEpochParams, signal?: AbortSignal): Promise<number>;
  /** The trainer's float evaluation (bpc) of weights on data (fast kernels on request, as trainEpoch). */
  evalBpc(weights: Float32Array, hidden: number, data: Uint8Array, opts?: { fast?: boolean }): Promise<number>;
  /** Whether `fast: true` really selects faster, non-exact training kernels here. */
  readonly fastTraining: boolean;
}
