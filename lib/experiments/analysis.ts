import { resolveBackend, type Backend, type BackendOptions, type ReadoutMethod, type RunOptions } from '../backend/index.js';
import { checkData } from '../data.js';
import { SatrnnError } from '../errors.js';
import type { Model } from '../model.js';
import { VOCAB } from '../model.js';

export interface AnalysisInput {
  model: Model;
  /** The text, any bytes; n >= 2 (n - 1 predictions). */
  data: Uint8Array;
  /** A backend, or options to pick one (default: native when it loads). */
  backend?: Backend | BackendOptions;
  /** Readout summation strategy; both are bit-identical (default 'certified', the fast one). */
  readoutMethod?: ReadoutMethod;
}

/** One readout variant: which neurons the readout uses, and which it reads as signs. */
export interface ReadoutVariant {
  /** Neurons whose readout term is removed (Wy column zeroed). */
  knockout?: readonly number[];
  /** Keep only these neurons (applied before `knockout`). */
  keepOnly?: readonly number[];
  /** Neurons whose value is replaced by sgn(h) (+1 for h >= 0, -1 otherwise) in the readout. */
  signSnap?: readonly number[];
}

/**
 * A model, a text and a backend, with the hidden trajectory computed once and shared by
 * every readout variant (the dynamics never change in readout experiments).
 */
export class Analysis {
  readonly model: Model;
  readonly data: Uint8Array;
  readonly backend: Backend;
  /** targets[t] = data[t+1]: the byte predicted from the state after data[t]. */
  readonly targets: Uint8Array;
  readonly readoutMethod: ReadoutMethod;
  private states: Promise<Float32Array> | undefined;

  constructor(input: AnalysisInput) {
    this.model = input.model;
    this.data = checkData(input.data);
    this.backend = resolveBackend(input.backend);
    this.targets = this.data.subarray(1);
    this.readoutMethod = input.readoutMethod ?? 'certified';
  }

  get hidden(): number {
    return this.model.hidden;
  }

  /** Number of predictions, n - 1. */
  get predictions(): number {
    return this.targets.length;
  }

  /** h_t for t = 0 .. n-2 (the last byte is never fed), [t*H + i]. */
  trajectory(): Promise<Float32Array> {
    this.states ??= this.backend
      .forward(this.model, this.data.subarray(0, this.data.length - 1))
      .then((t) => t.states);
    return this.states;
  }

  /** Mean bpc of each variant, one batched backend call. */
  async meanBpc(variants: readonly ReadoutVariant[], opts: RunOptions = {}): Promise<Float64Array> {
    const H = this.hidden;
    const V = variants.length;
    if (V === 0) return new Float64Array(0);
    const keep = new Uint8Array(V * H);
    let snap: Uint8Array | undefined;
    variants.forEach((variant, v) => {
      const row = keep.subarray(v * H, (v + 1) * H);
      if (variant.keepOnly) for (const j of variant.keepOnly) row[this.neuron(j)] = 1;
      else row.fill(1);
      for (const j of variant.knockout ?? []) row[this.neuron(j)] = 0;
      if (variant.signSnap && variant.signSnap.length > 0) {
        snap ??= new Uint8Array(V * H);
        for (const j of variant.signSnap) snap[v * H + this.neuron(j)] = 1;
      }
    });
    const states = await this.trajectory();
    const res = await this.backend.readout(
      { model: this.model, states, targets: this.targets, keep, ...(snap ? { snap } : {}), method: this.readoutMethod },
      opts,
    );
    return res.mean;
  }

  private neuron(j: number): number {
    if (!Number.isInteger(j) || j < 0 || j >= this.hidden)
      throw new SatrnnError('BAD_OPTION', `neuron index ${j} is out of range 0..${this.hidden - 1}`);
    return j;
  }

  /** mean over t of |h_t[j]| for every j, summed in t order in double. */
  async meanAbsHidden(): Promise<Float64Array> {
    const H = this.hidden;
    const T = this.predictions;
    const states = await this.trajectory();
    const sum = new Float64Array(H);
    for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) sum[j] = sum[j]! + Math.abs(states[t * H + j]!);
    for (let j = 0; j < H; j++) sum[j] = sum[j]! / T;
    return sum;
  }
}

/** |Wy column j| = sqrt(sum over o of float(Wy[o][j]^2)), squares rounded to float, summed in double. */
export function wyColumnNorms(model: Model): Float64Array {
  const H = model.hidden;
  const out = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    let s = 0.0;
    for (let o = 0; o < VOCAB; o++) {
      const w = model.Wy[o * H + j]!;
      s = s + Math.fround(w * w);
    }
    out[j] = Math.sqrt(s);
  }
  return out;
}
