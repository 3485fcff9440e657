// Pure TypeScript kernels, bit-identical to native/: Math.fround after every float32
// operation (a double product or sum of two floats rounded once to float equals the
// binary32 result), doubles as plain JS numbers, and glibc-2.36-exact tanhf/exp/log2.
import { tanhf } from '../../math/float32.js';
import { exp, log2 } from '../../math/float64.js';
import type { Model } from '../../model.js';
import { VOCAB } from '../../model.js';

const fround = Math.fround;

/** 00-common §3 over bytes[0..n-1], from h0 (or zeros). */
export function forwardJs(model: Model, bytes: Uint8Array, h0?: Float32Array): Float32Array {
  const H = model.hidden;
  const { Wx, Wh, bh } = model;
  const out = new Float32Array(bytes.length * H);
  let h = new Float32Array(H);
  if (h0) h.set(h0);
  for (let t = 0; t < bytes.length; t++) {
    const x = bytes[t]!;
    const hn = out.subarray(t * H, (t + 1) * H);
    for (let i = 0; i < H; i++) {
      let z = fround(bh[i]! + Wx[i * VOCAB + x]!);
      const row = i * H;
      for (let j = 0; j < H; j++) z = fround(z + fround(Wh[row + j]! * h[j]!));
      hn[i] = tanhf(z);
    }
    h = hn;
  }
  return out;
}

const FLOOR = 1e-30;

/** Steps 2-5 of 00-common §4 on finished logits. `e` is scratch space of 256 doubles. */
export function bitsFromLogits(logit: Float64Array, e: Float64Array, y: number): number {
  let M = -1e30;
  for (let o = 0; o < VOCAB; o++) if (logit[o]! > M) M = logit[o]!;
  let E = 0.0;
  for (let o = 0; o < VOCAB; o++) {
    const v = exp(logit[o]! - M);
    e[o] = v;
    E = E + v;
  }
  const p = e[y]! / E;
  return -log2(p > FLOOR ? p : FLOOR);
}

import type { ReadoutMethod } from '../types.js';

export interface ReadoutJsArgs {
  model: Model;
  states: Float32Array;
  targets: Uint8Array;
  keep: Uint8Array;
  snap?: Uint8Array;
  v0: number;
  v1: number;
  mean: Float64Array;
  bits?: Float64Array;
  method: ReadoutMethod;
  /** Checked between positions; return true to stop early. */
  shouldStop?: () => boolean;
}

const ABSENT = 0;
const VALUE = 1;
const SIGN = 2;

/**
 * One variant: its kept terms in j order (ordered sums) and, for the certified method, the
 * cheapest exact route to its logits: re-sum the kept terms ('ordered'), update the full
 * sums ('full'), or update the previous variant's logits ('previous'). Same rule as
 * native/readout.cc.
 */
interface Plan {
  kept: Int32Array;
  keptSnap: Uint8Array;
  use: Uint8Array;
  base: 'ordered' | 'full' | 'previous';
  /** Triples (j, from, to): remove the `from` term of neuron j, add the `to` term. */
  ops: Int32Array;
}

function makePlan(keep: Uint8Array, snap: Uint8Array | undefined, v: number, H: number): Plan {
  const kept: number[] = [];
  const keptSnap: number[] = [];
  const use = new Uint8Array(H);
  for (let j = 0; j < H; j++) {
    const s = snap !== undefined && snap[v * H + j] !== 0;
    if (keep[v * H + j] !== 0) {
      kept.push(j);
      keptSnap.push(s ? 1 : 0);
      use[j] = s ? SIGN : VALUE;
    }
  }
  return { kept: Int32Array.from(kept), keptSnap: Uint8Array.from(keptSnap), use, base: 'ordered', ops: new Int32Array(0) };
}

function diffOps(from: Uint8Array, to: Uint8Array): { ops: Int32Array; cost: number } {
  const ops: number[] = [];
  let cost = 0;
  for (let j = 0; j < to.length; j++)
    if (from[j] !== to[j]) {
      ops.push(j, from[j]!, to[j]!);
      cost += (from[j] !== ABSENT ? 1 : 0) + (to[j] !== ABSENT ? 1 : 0);
    }
  return { ops: Int32Array.from(ops), cost };
}

function chooseBases(plans: Plan[]): void {
  if (plans.length === 0) return;
  const full = new Uint8Array(plans[0]!.use.length).fill(VALUE);
  plans.forEach((p, i) => {
    let best = p.kept.length;
    const f = diffOps(full, p.use);
    if (f.cost < best) {
      best = f.cost;
      p.base = 'full';
      p.ops = f.ops;
    }
    if (i > 0) {
      const d = diffOps(plans[i - 1]!.use, p.use);
      if (d.cost < best) {
        p.base = 'previous';
        p.ops = d.ops;
      }
    }
  });
}

const sign = (h: number): number => (h >= 0 ? 1 : -1);

/** The spec's sum for output o: by[o], then the kept terms in j order (float products widened). */
function orderedLogit(Wy: Float32Array, by: Float32Array, H: number, p: Plan, h: Float32Array, hb: number, o: number): number {
  const wb = o * H;
  let s = by[o]!;
  const { kept, keptSnap } = p;
  for (let q = 0; q < kept.length; q++) {
    const j = kept[q]!;
    const hj = h[hb + j]!;
    s = s + fround(Wy[wb + j]! * (keptSnap[q] !== 0 ? sign(hj) : hj));
  }
  return s;
}

// Certificate (00-common §4): if every term is a multiple of 2^(E-150) (E = smallest float
// exponent field among the nonzero terms) and the sum of all magnitudes is below
// 2^(E-150+53), every partial sum of any subset in any order is exact, so a variant's logit
// may be derived from the full sum by exact subtractions. Same rule as native/readout.cc.
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
function expField(absValue: number): number {
  if (absValue === 0 || absValue === Infinity) return 255;
  F32[0] = absValue;
  return U32[0]! >>> 23;
}
const POW2_MINUS_97 = Float64Array.from({ length: 256 }, (_, e) => 2 ** (e - 97));

interface CertConsts {
  bound: Float64Array;
  minAbs: Float64Array;
}

function certConsts(model: Model): CertConsts {
  const H = model.hidden;
  const { Wy, by } = model;
  const bound = new Float64Array(VOCAB);
  const minAbs = new Float64Array(VOCAB);
  for (let o = 0; o < VOCAB; o++) {
    let a = Math.abs(by[o]!);
    let mn = a === 0 ? Infinity : a;
    for (let j = 0; j < H; j++) {
      const w = Math.abs(Wy[o * H + j]!);
      a = a + w;
      if (w !== 0 && w < mn) mn = w;
    }
    bound[o] = a * (1 + 2 ** -40);
    minAbs[o] = mn;
  }
  return { bound, minAbs };
}

/** Exact readout (00-common §4-5) for variants v0..v1-1; reports the method used and the ordered fallbacks. */
export function readoutJs(a: ReadoutJsArgs): { method: ReadoutMethod; fallbacks: number } {
  const { model, states, targets, keep, snap } = a;
  const H = model.hidden;
  const { Wy, by } = model;
  const T = targets.length;
  const plans: Plan[] = [];
  for (let v = a.v0; v < a.v1; v++) plans.push(makePlan(keep, snap, v, H));
  chooseBases(plans);
  // Logits of the current and the previous variant (a 'previous' base reads the other one).
  const logitA = new Float64Array(VOCAB);
  const logitB = new Float64Array(VOCAB);
  const e = new Float64Array(VOCAB);
  const total = new Float64Array(a.v1 - a.v0);
  let certified = a.method === 'certified';
  if (certified) for (let i = 0; i < states.length && certified; i++) certified = Math.abs(states[i]!) <= 1;
  const cert = certified ? certConsts(model) : undefined;
  const S = new Float64Array(VOCAB);
  const uncertified: number[] = [];
  let fallbacks = 0;
  for (let t = 0; t < T; t++) {
    if (a.shouldStop?.() === true) return { method: cert ? 'certified' : 'ordered', fallbacks };
    const hb = t * H;
    if (cert) {
      uncertified.length = 0;
      for (let o = 0; o < VOCAB; o++) {
        const wb = o * H;
        let s = by[o]!;
        let mn = cert.minAbs[o]!;
        for (let j = 0; j < H; j++) {
          const p = fround(Wy[wb + j]! * states[hb + j]!);
          s = s + p;
          const ap = Math.abs(p);
          if (ap !== 0 && ap < mn) mn = ap;
        }
        S[o] = s;
        const E = expField(mn);
        if (E < 255 && !(cert.bound[o]! < POW2_MINUS_97[E]!)) uncertified.push(o);
      }
    }
    for (let i = 0; i < plans.length; i++) {
      const p = plans[i]!;
      const logit = i % 2 === 0 ? logitA : logitB;
      if (cert && p.base !== 'ordered') {
        logit.set(p.base === 'full' ? S : i % 2 === 0 ? logitB : logitA);
        const { ops } = p;
        for (let q = 0; q < ops.length; q += 3) {
          const j = ops[q]!;
          const hj = states[hb + j]!;
          const from = ops[q + 1] === SIGN ? sign(hj) : hj;
          const to = ops[q + 2] === SIGN ? sign(hj) : hj;
          const hasFrom = ops[q + 1] !== ABSENT;
          const hasTo = ops[q + 2] !== ABSENT;
          for (let o = 0, w = j; o < VOCAB; o++, w += H) {
            let x = logit[o]!;
            if (hasFrom) x = x - fround(Wy[w]! * from);
            if (hasTo) x = x + fround(Wy[w]! * to);
            logit[o] = x;
          }
        }
        for (const o of uncertified) logit[o] = orderedLogit(Wy, by, H, p, states, hb, o);
        fallbacks += uncertified.length;
      } else {
        for (let o = 0; o < VOCAB; o++) logit[o] = orderedLogit(Wy, by, H, p, states, hb, o);
      }
      const b = bitsFromLogits(logit, e, targets[t]!);
      if (a.bits) a.bits[(a.v0 + i) * T + t] = b;
      total[i] = total[i]! + b;
    }
  }
  for (let i = 0; i < plans.length; i++) a.mean[a.v0 + i] = total[i]! / T;
  return { method: cert ? 'certified' : 'ordered', fallbacks };
}
