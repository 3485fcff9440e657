// Cheap per-model statistics (O(H * 256) or a sort of H^2 values), while the O(n * H)
// trajectory statistics are kernels of the dynamics primitive. The readout statistics an
// Analysis needs at once also have a native twin (Backend.readoutStats): a cold JavaScript
// loop over the 33k readout weights costs several milliseconds of a short run.
import { SatrnnError } from '../errors.js';
import type { Model } from '../model.js';
import { VOCAB } from './layout.js';
import type { ReadoutStats } from './types.js';

function columnNorms(Wy: Float32Array, H: number): Float64Array {
  const out = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    let s = 0.0;
    for (let o = 0; o < VOCAB; o++) {
      const w = Wy[o * H + j]!;
      s = s + Math.fround(w * w);
    }
    out[j] = Math.sqrt(s);
  }
  return out;
}

/**
 * The readout weight norm of every neuron, `[H]`: |Wy column j| = sqrt(sum over o of
 * float(Wy[o][j]^2)), squares rounded to float, summed in double in o order.
 */
export function wyColumnNorms(model: Model): Float64Array {
  return columnNorms(model.Wy, model.hidden);
}

/**
 * The arguments of {@link Backend.readoutStats}, checked the same way on every backend.
 * @internal
 */
export function checkReadoutArrays(Wy: unknown, by: unknown): void {
  if (!(Wy instanceof Float32Array) || !(by instanceof Float32Array) || Wy.length === 0 || Wy.length % VOCAB !== 0 || by.length !== VOCAB)
    throw new SatrnnError('BAD_OPTION', `readoutStats takes Wy (a Float32Array of 256·H) and by (a Float32Array of 256)`);
}

/**
 * {@link Backend.readoutStats} in TypeScript (the js backend's, and the native one's reference).
 * @internal
 */
export function readoutStatsJs(Wy: Float32Array, by: Float32Array): ReadoutStats {
  checkReadoutArrays(Wy, by);
  let subnormal = 0;
  let maxAbs = 0;
  for (const w of [Wy, by])
    for (let i = 0; i < w.length; i++) {
      const a = Math.abs(w[i]!);
      if (a !== 0 && a < 2 ** -126) subnormal++;
      if (a > maxAbs) maxAbs = a;
    }
  return { wyNorms: columnNorms(Wy, Wy.length / VOCAB), maxAbs, subnormal };
}

/** The magnitudes |w| of a set of weights, from {@link magnitudes}. */
export interface MagnitudeSummary {
  /** Every |w|, ascending. */
  sorted: Float32Array;
  /** The smallest |w| (NaN for no values). */
  min: number;
  /** The largest |w| (NaN for no values). */
  max: number;
  /** Sum of |w| in double, taken in ascending order, divided by the count (q5_redux). */
  mean: number;
}

/**
 * Every |w| of `values`, ascending (only values matter, so any correct sort).
 * @internal
 */
export function sortedMagnitudes(values: Float32Array): Float32Array {
  return values.map((v) => Math.abs(v)).sort();
}

/** The magnitudes of a weight matrix, sorted (only values matter, so any correct sort). */
export function magnitudes(values: Float32Array): MagnitudeSummary {
  const sorted = sortedMagnitudes(values);
  // (reduce: the same sum in the same order as a loop; a loop over the ~16-33 K weights of a
  // cold run gets a synchronous on-stack-replacement compile, ~4 ms, the callback does not.)
  const s = sorted.reduce((acc, v) => acc + v, 0.0);
  return { sorted, min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN, mean: s / sorted.length };
}

/**
 * Entries below thr (rounded to float32) in `sorted`, ascending magnitudes such as
 * {@link sortedMagnitudes}': the entries a threshold edit of that matrix zeroes (|w| < thr).
 * @internal
 */
export function countBelow(sorted: Float32Array, thr: number): number {
  const t = Math.fround(thr);
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Entries of `values` with |w| >= thr (thr rounded to float32). */
export function countAtLeast(values: Float32Array, thr: number): number {
  const t = Math.fround(thr);
  return values.reduce((c, v) => (Math.abs(v) >= t ? c + 1 : c), 0); // (reduce: see magnitudes)
}
