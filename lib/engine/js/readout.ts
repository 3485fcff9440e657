// The readout primitive in TypeScript, bit-identical to native/kernels/readout.cc: Math.fround
// after every float32 operation (a double product of two floats rounded once to float
// equals the binary32 result), doubles as plain JS numbers, glibc-2.36-exact exp/log2.
import { exp, log2 } from '../../math/float64.js';
import { VOCAB, layout } from '../layout.js';
import { USE } from '../types.js';
import type { ReadoutMethod } from '../types.js';

const fround = Math.fround;

const FLOOR = 1e-30;

/**
 * Steps 2-3 of 00-common §4 on finished logits: e[off + o] = exp(logit[o] - M) with M the
 * max (start -1e30, strictly greater); returns their sum in o order.
 */
function softmaxExp(logit: Float64Array, e: Float64Array, off: number): number {
  let M = -1e30;
  for (let o = 0; o < VOCAB; o++) if (logit[o]! > M) M = logit[o]!;
  let E = 0.0;
  for (let o = 0; o < VOCAB; o++) {
    const v = exp(logit[o]! - M);
    e[off + o] = v;
    E = E + v;
  }
  return E;
}

/** The probability row of finished logits (00-common §4 steps 2-4), written at out[off ..]. */
export function probsFromLogits(logit: Float64Array, out: Float64Array, off: number): void {
  const E = softmaxExp(logit, out, off);
  for (let o = 0; o < VOCAB; o++) out[off + o] = out[off + o]! / E;
}

/** Steps 2-5 of 00-common §4 on finished logits. `e` is scratch space of 256 doubles. */
export function bitsFromLogits(logit: Float64Array, e: Float64Array, y: number): number {
  const E = softmaxExp(logit, e, 0);
  const p = e[y]! / E;
  return -log2(p > FLOOR ? p : FLOOR);
}

/** A tile of a readout batch: variants [v0, v1) at positions [t0, t1), bits into bits[v*T + t]. */
export interface ReadoutTile {
  weights: Float32Array;
  hidden: number;
  /** [T*H] */
  states: Float32Array;
  /** [T]: targets[t] = the byte predicted from state t. */
  targets: Uint8Array;
  /** USE codes [V*H]. */
  use: Uint8Array;
  /** [V*H]: the values read where a code is USE.fixed. */
  useValues?: Float32Array;
  /** [V*T] out. */
  bits: Float64Array;
  v0: number;
  v1: number;
  t0: number;
  t1: number;
  /** 'certified' only when every state is in [-1, 1] (statesBounded). */
  method: ReadoutMethod;
  /** [T] or absent: read out only where select[t] != 0. */
  select?: Uint8Array;
  /** [V*rows*256]: probability rows; probRow[t] is position t's row. */
  probs?: Float64Array;
  probRow?: Uint32Array;
  rows?: number;
}

const ABSENT = USE.absent;
const VALUE = USE.value;
const SIGN = USE.sign;
const NEGATED = USE.negated;
const FIXED = USE.fixed;

/**
 * One variant: its kept terms in j order (ordered sums) and, for the certified method, the
 * cheapest exact route to its logits: re-sum the kept terms ('ordered'), update the full
 * sums ('full'), or update the previous variant's logits ('previous'). Same rule as
 * native/readout.cc.
 */
interface Plan {
  kept: Int32Array;
  keptUse: Uint8Array;
  /** The value of each kept USE.fixed term (read instead of h_j). */
  keptValue: Float32Array;
  /** Whether a term reads a fixed value: such a variant is summed in order, never derived (its terms are outside the certificate's exponent bound). */
  fixed: boolean;
  use: Uint8Array;
  base: 'ordered' | 'full' | 'previous';
  /** Triples (j, from, to): remove the `from` term of neuron j, add the `to` term. */
  ops: Int32Array;
}

function makePlan(useAll: Uint8Array, v: number, H: number, values: Float32Array | undefined): Plan {
  const kept: number[] = [];
  const keptUse: number[] = [];
  const keptValue: number[] = [];
  const use = useAll.slice(v * H, (v + 1) * H);
  for (let j = 0; j < H; j++)
    if (use[j] !== ABSENT) {
      kept.push(j);
      keptUse.push(use[j]!);
      keptValue.push(use[j] === FIXED ? values![v * H + j]! : 0);
    }
  const fixed = keptUse.includes(FIXED);
  return { kept: Int32Array.from(kept), keptUse: Uint8Array.from(keptUse), keptValue: Float32Array.from(keptValue), fixed, use, base: 'ordered', ops: new Int32Array(0) };
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
    if (p.fixed) return; // summed in order (see Plan.fixed)
    let best = p.kept.length;
    const f = diffOps(full, p.use);
    if (f.cost < best) {
      best = f.cost;
      p.base = 'full';
      p.ops = f.ops;
    }
    if (i > 0 && !plans[i - 1]!.fixed) {
      const d = diffOps(plans[i - 1]!.use, p.use);
      if (d.cost < best) {
        p.base = 'previous';
        p.ops = d.ops;
      }
    }
  });
}

const sign = (h: number): number => (h >= 0 ? 1 : -1);
/** The value a term of use `u` reads from h (negation is exact: fround(w * -h) = -fround(w * h)). */
const readAs = (u: number, h: number): number => (u === SIGN ? sign(h) : u === NEGATED ? -h : h);

/** The spec's sum for output o: by[o], then the kept terms in j order (float products widened). */
function orderedLogit(Wy: Float32Array, by: Float32Array, H: number, p: Plan, h: Float32Array, hb: number, o: number): number {
  const wb = o * H;
  let s = by[o]!;
  const { kept, keptUse } = p;
  for (let q = 0; q < kept.length; q++) {
    const j = kept[q]!;
    const u = keptUse[q]!;
    s = s + fround(Wy[wb + j]! * (u === FIXED ? p.keptValue[q]! : readAs(u, h[hb + j]!)));
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

function certConsts(Wy: Float32Array, by: Float32Array, H: number): CertConsts {
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

/** Whether every state is in [-1, 1] (the certificate's premise; tanh states always are). */
export function statesBounded(states: Float32Array): boolean {
  for (let i = 0; i < states.length; i++) if (!(Math.abs(states[i]!) <= 1)) return false;
  return true;
}

/** Exact readout (00-common §4-5) of one tile; returns the ordered fallbacks. */
export function readoutTileJs(a: ReadoutTile): number {
  const { states, targets, hidden: H } = a;
  const l = layout(H);
  const Wy = a.weights.subarray(l.Wy, l.by);
  const by = a.weights.subarray(l.by, l.count);
  const T = targets.length;
  const plans: Plan[] = [];
  for (let v = a.v0; v < a.v1; v++) plans.push(makePlan(a.use, v, H, a.useValues));
  chooseBases(plans);
  // Logits of the current and the previous variant (a 'previous' base reads the other one).
  const logitA = new Float64Array(VOCAB);
  const logitB = new Float64Array(VOCAB);
  const e = new Float64Array(VOCAB);
  const cert = a.method === 'certified' ? certConsts(Wy, by, H) : undefined;
  const S = new Float64Array(VOCAB);
  const uncertified: number[] = [];
  let fallbacks = 0;
  for (let t = a.t0; t < a.t1; t++) {
    if (a.select && a.select[t] === 0) continue;
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
          const from = readAs(ops[q + 1]!, hj);
          const to = readAs(ops[q + 2]!, hj);
          const hasFrom = ops[q + 1] !== ABSENT;
          const hasTo = ops[q + 2] !== ABSENT;
          for (let o = 0, w = j; o < VOCAB; o++, w += H) {
            let x = logit[o]!;
            if (hasFrom) x = x - fround(Wy[w]! * from);
            if (hasTo) x = x + fround(Wy[w]! * to);
            logit[o] = x;
          }
        }
        // No change: the base logits are this variant's own ordered sums (as native).
        if (ops.length > 0) {
          for (const o of uncertified) logit[o] = orderedLogit(Wy, by, H, p, states, hb, o);
          fallbacks += uncertified.length;
        }
      } else {
        for (let o = 0; o < VOCAB; o++) logit[o] = orderedLogit(Wy, by, H, p, states, hb, o);
      }
      a.bits[(a.v0 + i) * T + t] = bitsFromLogits(logit, e, targets[t]!);
      if (a.probs) probsFromLogits(logit, a.probs, ((a.v0 + i) * a.rows! + a.probRow![t]!) * VOCAB);
    }
  }
  return fallbacks;
}

/** totals[v] = totals[v] + bits[v*T + t] for the selected t in order (00-common §5's running sum, across chunks). */
export function addBitsInOrder(bits: Float64Array, V: number, T: number, totals: Float64Array, select?: Uint8Array): void {
  for (let v = 0; v < V; v++) {
    let total = totals[v]!;
    for (let t = 0; t < T; t++) if (!select || select[t] !== 0) total = total + bits[v * T + t]!;
    totals[v] = total;
  }
}
