// What a js backend call owns (the twin of native/napi/args.h "Memory of async jobs"): a
// call yields to the event loop (worker tasks, in-process slices), and meanwhile JS may
// detach (transfer) or resize any array it was given. Every call therefore takes private
// copies of its arrays synchronously, before its first await: the kernels read the copies
// of the inputs and write private outputs, and commit() copies the outputs (and in/out
// arrays) back once the work is done, after checking that every caller array is still
// attached with its length; if one is not, nothing is written back and the call rejects
// with BAD_OPTION. So a detached input never changes a result, and a detached output is a
// clear error. Copies run at memcpy speed, negligible against the js kernels.
import { SatrnnError } from '../../errors.js';
import type { ChunkGroup, ChunkRequest, StatsAccumulators } from '../types.js';

type Typed = Float32Array | Float64Array | Uint8Array | Uint32Array;

/** One caller array and the private array whose elements go back to it. */
interface Back {
  key: string;
  to: Typed;
  from: Typed;
  length: number;
  /** Elements [lo, length) go back; with `mask`, only element i with mask[i % mask.length] != 0. */
  lo: number;
  mask?: Uint8Array;
}

/** The copy-back list of one call. */
class Outputs {
  private readonly list: Back[] = [];

  /** A private zeroed array for the output `to` (elements from `lo` on go back). */
  out<T extends Typed>(key: string, to: T, lo = 0, mask?: Uint8Array): T {
    const from = new (to.constructor as new (n: number) => T)(to.length);
    this.list.push({ key, to, from, length: to.length, lo, ...(mask ? { mask } : {}) });
    return from;
  }

  /** A private copy of the in/out array `to` (all of it goes back). */
  inOut<T extends Typed>(key: string, to: T): T {
    const from = to.slice() as T;
    this.list.push({ key, to, from, length: to.length, lo: 0 });
    return from;
  }

  /**
   * Copies every output back, or throws BAD_OPTION (writing nothing) when a caller array
   * was detached or resized while the work ran.
   */
  commit(what: string): void {
    for (const b of this.list)
      if (b.length > 0 && b.to.length !== b.length)
        throw new SatrnnError('BAD_OPTION', `${what}: an output buffer (${b.key}) was detached or resized while the job ran; nothing was written back`);
    for (const b of this.list) {
      if (b.lo >= b.length) continue;
      if (!b.mask) {
        (b.to as Float64Array).set((b.from as Float64Array).subarray(b.lo), b.lo);
        continue;
      }
      const m = b.mask;
      for (let i = b.lo; i < b.length; i++) if (m[i % m.length] !== 0) b.to[i] = b.from[i]!;
    }
  }
}

/** A copy of the inputs (`slice` copies into a fresh ArrayBuffer). */
function copy<T extends Typed>(a: T): T;
function copy<T extends Typed>(a: T | undefined): T | undefined;
function copy<T extends Typed>(a: T | undefined): T | undefined {
  return a === undefined ? undefined : (a.slice() as T);
}

function statsInOut(o: Outputs, s: StatsAccumulators): StatsAccumulators {
  return {
    sum: o.inOut('stats.sum', s.sum),
    sumAbs: o.inOut('stats.sumAbs', s.sumAbs),
    sumAbsF32: o.inOut('stats.sumAbsF32', s.sumAbsF32),
    minAbs: o.inOut('stats.minAbs', s.minAbs),
    saturated: o.inOut('stats.saturated', s.saturated),
    flips: o.inOut('stats.flips', s.flips),
    lastSign: o.inOut('stats.lastSign', s.lastSign),
  };
}

/** The typed-array inputs of a chunk group, copied by {@link ownChunk}. */
const OWNED_INPUTS = ['states', 'prefix', 'mode', 'value', 'substPos', 'substByte', 'patchPos', 'patchNeurons', 'patchValues', 'use', 'useValues', 'select'] as const;
type OwnedInput = (typeof OWNED_INPUTS)[number];

/**
 * A private copy of a checked chunk request, and `commit()` to copy its outputs back. Call it
 * synchronously after checkChunk(), before any await.
 */
export function ownChunk(req: ChunkRequest): { req: ChunkRequest; commit: () => void } {
  const H = req.hidden;
  const T = req.steps;
  const outs = new Outputs();
  const weights = new Map<Float32Array, Float32Array>();
  const groups = req.groups.map((g): ChunkGroup => {
    let w = weights.get(g.weights);
    if (!w) weights.set(g.weights, (w = copy(g.weights)));
    const o: ChunkGroup = { ...g, weights: w };
    // Inputs the kernels read: private copies (absent ones stay absent).
    for (const k of OWNED_INPUTS) {
      const v = g[k];
      if (v === undefined) delete o[k];
      else (o as Record<OwnedInput, Typed>)[k] = copy(v);
    }
    if (g.state) o.state = outs.inOut('state', g.state);
    if (g.stats) o.stats = statsInOut(outs, g.stats);
    if (g.totals) o.totals = outs.inOut('totals', g.totals);
    const from = g.from ?? 0;
    // Written rows: from `from` on (with a prefix, from 0: it is copied in first).
    if (g.statesOut) o.statesOut = outs.out('statesOut', g.statesOut, g.prefix ? 0 : from * H);
    if (g.preOut) o.preOut = outs.out('preOut', g.preOut, from * H);
    if (g.bitsOut) {
      // Bits are written at the positions read out only; the caller's other entries stay.
      const first = g.prefix ? 0 : from;
      let mask: Uint8Array | undefined;
      if (first > 0 || g.select) mask = new Uint8Array(T).map((_, t) => (t >= first && (!g.select || g.select[t] !== 0) ? 1 : 0));
      o.bitsOut = outs.out('bitsOut', g.bitsOut, 0, mask);
    }
    if (g.probsOut) o.probsOut = outs.out('probsOut', g.probsOut);
    return o;
  });
  const bytes = req.bytes.slice(0, Math.min(req.bytes.length, T + 1));
  return { req: { ...req, bytes, groups }, commit: () => outs.commit('engine run') };
}

/** Private copies of a training or evaluation call's arrays: `weights` goes back on commit() when `trained`. */
export function ownTraining(weights: Float32Array, data: Uint8Array, trained: boolean): { weights: Float32Array; data: Uint8Array; commit: () => void } {
  const outs = new Outputs();
  const w = trained ? outs.inOut('weights', weights) : copy(weights);
  return { weights: w, data: copy(data), commit: () => outs.commit(trained ? 'trainEpoch' : 'evalBpc') };
}
