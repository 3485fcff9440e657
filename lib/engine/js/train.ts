/**
 * sat_train kernels in TypeScript, bit-identical with native/train.cc (spec sat_train.md):
 * initialisation, the cosine learning-rate schedule, one training epoch (truncated BPTT,
 * global-norm clipping, SGD) and the trainer's float evaluation. H = 128 with the default
 * parameters reproduces the original C byte for byte; any H >= 1 is accepted.
 *
 * Exactness: every binary32 operation is a double operation followed by Math.fround (a
 * store into a Float32Array rounds the same way, so a final fround before such a store is
 * left out); float sums keep the spec's order; tanhf/expf/logf/cosf are the glibc-2.36
 * ports of lib/math/float32.ts; sqrtf = fround(Math.sqrt(float)) (correctly rounded).
 *
 * Speed: flat Float32Array offsets, hoisted locals, no allocation inside the epoch loop,
 * and four independent dot products interleaved in the forward pass (each keeps its own
 * sequential order, so the result is unchanged).
 */
import { SatrnnError } from '../../errors.js';
import { cosf, expf, expfPlain, logf } from '../../math/float32.js';
import { stepJs as step } from './step.js';
import { GlibcRandom } from '../../math/rand.js';
import { VOCAB, layout } from '../layout.js';

const fround = Math.fround;

/** Training hyper-parameters (the original: H = 128, bptt 50, lrPeak 0.01f, clip 5.0f). */
export interface TrainParams {
  /** Hidden units. */
  H: number;
  /** Predictions per window (window = bptt + 1 bytes, windows start every bptt bytes). */
  bptt?: number;
  /** Peak of the cosine schedule (rounded to float32). */
  lrPeak?: number;
  /** Global gradient-norm threshold (rounded to float32). */
  clip?: number;
}

export interface TrainEpochOptions {
  /** Polled between windows; when it returns true the epoch stops and NaN is returned. */
  shouldCancel?: () => boolean;
}

function f32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0]!;
}

const PI_F = fround(3.14159265); // bits 0x40490fdb

// glibc's FMA and plain builds of expf differ on exactly two of the 2^32 inputs (found by
// an exhaustive comparison of native/math/glibc_float.h's expf and expf_plain); the plain
// port avoids the costly emulated fused multiply-adds everywhere else.
const EXPF_FMA_ONLY_1 = f32FromBits(0x4202422f); // 0x1.04845ep+5
const EXPF_FMA_ONLY_2 = f32FromBits(0xc27c65d9); // -0x1.f8cbb2p+5

/** glibc expf (FMA build, as lib/math/float32.ts expf), fast. */
function expfFast(x: number): number {
  return x === EXPF_FMA_ONLY_1 || x === EXPF_FMA_ONLY_2 ? expf(x) : expfPlain(x);
}
const LOSS_FLOOR = fround(1e-8); // bits 0x322bcc77
const LN2_F = logf(2); // bits 0x3f317218

function checkHidden(H: number): void {
  if (!Number.isInteger(H) || H < 1) throw new SatrnnError('BAD_OPTION', `hidden size must be an integer >= 1 (got ${H})`);
}

function checkWeights(weights: Float32Array, H: number): void {
  if (weights.length !== layout(H).count)
    throw new SatrnnError('BAD_OPTION', `weights has ${weights.length} floats, a model with H=${H} needs ${layout(H).count}`);
}

/**
 * Initial weights as the original: glibc srand(seed); for each hidden unit i the Wx row
 * (256 draws) then the Wh row (H draws); then the Wy rows (H draws each); every draw r
 * becomes fround(fround(fround(float(r) / 2^31) - 0.5f) / float(H)); bh = by = 0.
 */
export function trainInit(weights: Float32Array, H: number, seed = 42): void {
  checkHidden(H);
  checkWeights(weights, H);
  const rng = new GlibcRandom(seed);
  const fh = fround(H);
  const draw = (): number => {
    const a = fround(rng.rand());
    const v = fround(a / 2147483648);
    return fround(fround(v - 0.5) / fh);
  };
  const { Wh: oWh, bh: obh, Wy: oWy, by: oby } = layout(H);
  for (let i = 0; i < H; i++) {
    for (let x = 0; x < VOCAB; x++) weights[i * VOCAB + x] = draw();
    for (let j = 0; j < H; j++) weights[oWh + i * H + j] = draw();
    weights[obh + i] = 0;
  }
  for (let o = 0; o < VOCAB; o++) {
    for (let j = 0; j < H; j++) weights[oWy + o * H + j] = draw();
    weights[oby + o] = 0;
  }
}

/**
 * Learning rate of epoch `epoch` (1-based) of `total`: fround(fround(lrPeak*0.5f) *
 * fround(1 + cosf(fround(fround(pi*e)/E)))), floored at fround(lrPeak*0.01f).
 */
export function trainLr(epoch: number, total: number, lrPeak = 0.01): number {
  const peak = fround(lrPeak);
  const x = fround(fround(PI_F * fround(epoch)) / fround(total));
  const c = cosf(x);
  const lr = fround(fround(peak * 0.5) * fround(1 + c));
  const floor = fround(peak * fround(0.01));
  return lr < floor ? floor : lr;
}

/**
 * Float readout and softmax: logit[o] = by[o] + Wy[o][j]*hn[j] (j in order), then
 * p[o] = expf(logit[o] - max) / sum (sum in o order), written to prob[oP .. oP+255].
 * `e` is a 256-float scratch array.
 */
function readout(w: Float32Array, H: number, hn: Float32Array, hOff: number, prob: Float32Array, oP: number, e: Float32Array): void {
  const { Wy: oWy, by: oby } = layout(H);
  for (let o = 0; o < VOCAB; o += 4) {
    let s0 = w[oby + o]!;
    let s1 = w[oby + o + 1]!;
    let s2 = w[oby + o + 2]!;
    let s3 = w[oby + o + 3]!;
    const r0 = oWy + o * H;
    const r1 = r0 + H;
    const r2 = r1 + H;
    const r3 = r2 + H;
    for (let j = 0; j < H; j++) {
      const hj = hn[hOff + j]!;
      s0 = fround(s0 + fround(w[r0 + j]! * hj));
      s1 = fround(s1 + fround(w[r1 + j]! * hj));
      s2 = fround(s2 + fround(w[r2 + j]! * hj));
      s3 = fround(s3 + fround(w[r3 + j]! * hj));
    }
    e[o] = s0;
    e[o + 1] = s1;
    e[o + 2] = s2;
    e[o + 3] = s3;
  }
  let m = e[0]!;
  for (let o = 1; o < VOCAB; o++) {
    const l = e[o]!;
    if (l > m) m = l;
  }
  let sum = 0;
  for (let o = 0; o < VOCAB; o++) {
    const v = expfFast(fround(e[o]! - m));
    e[o] = v;
    sum = fround(sum + v);
  }
  for (let o = 0; o < VOCAB; o++) prob[oP + o] = e[o]! / sum;
}

/**
 * For the R rows k of a weight block starting at w[base] / g[base] (row stride H):
 *   g[k][j] += fround(c[k] * v[vOff + j])        (gradient outer product)
 *   acc[j]   = sum over k in order of fround(w[k][j] * c[k]), starting from 0.
 * Four rows per pass over j (one load of v[j] and of acc[j] per four terms); every
 * element still sees its operations in the spec's order.
 */
function backRows(
  w: Float32Array,
  g: Float32Array,
  base: number,
  R: number,
  H: number,
  c: Float32Array,
  v: Float32Array,
  vOff: number,
  acc: Float32Array,
): void {
  acc.fill(0);
  const H2 = 2 * H;
  const H3 = 3 * H;
  let r = 0;
  for (; r + 4 <= R; r += 4) {
    const c0 = c[r]!;
    const c1 = c[r + 1]!;
    const c2 = c[r + 2]!;
    const c3 = c[r + 3]!;
    const k0 = base + r * H;
    for (let j = 0; j < H; j++) {
      const h = v[vOff + j]!;
      const k = k0 + j;
      g[k] = g[k]! + fround(c0 * h);
      g[k + H] = g[k + H]! + fround(c1 * h);
      g[k + H2] = g[k + H2]! + fround(c2 * h);
      g[k + H3] = g[k + H3]! + fround(c3 * h);
      let s = acc[j]!;
      s = fround(s + fround(w[k]! * c0));
      s = fround(s + fround(w[k + H]! * c1));
      s = fround(s + fround(w[k + H2]! * c2));
      acc[j] = s + fround(w[k + H3]! * c3);
    }
  }
  for (; r < R; r++) {
    const cr = c[r]!;
    const k0 = base + r * H;
    for (let j = 0; j < H; j++) {
      const k = k0 + j;
      g[k] = g[k]! + fround(cr * v[vOff + j]!);
      acc[j] = acc[j]! + fround(w[k]! * cr);
    }
  }
}

/** -logf(max(q, 1e-8f)) as a float. */
function predLoss(q: number): number {
  return -logf(q < LOSS_FLOOR ? LOSS_FLOOR : q);
}

/**
 * One training epoch over `data` (hidden state starts at zero), updating `weights` in
 * place. Returns the training bpc: sum of the float window losses (double) divided by
 * fround(predictions * ln2). NaN if `opts.shouldCancel` fired (weights then partially
 * updated).
 */
export function trainEpoch(
  weights: Float32Array,
  data: Uint8Array,
  lr: number,
  params: TrainParams,
  opts: TrainEpochOptions = {},
): number {
  const H = params.H;
  checkHidden(H);
  checkWeights(weights, H);
  const B = params.bptt ?? 50;
  if (!Number.isInteger(B) || B < 1) throw new SatrnnError('BAD_OPTION', `bptt must be an integer >= 1 (got ${B})`);
  const clip = fround(params.clip ?? 5);
  const lrF = fround(lr);
  // NaN or infinite rates would train silently into NaN weights.
  if (!(lrF > 0 && Number.isFinite(lrF)) || !(clip > 0 && Number.isFinite(clip)))
    throw new SatrnnError('BAD_OPTION', `learning rate and clip must be positive finite float32 values (got ${lr}, ${params.clip})`);
  const shouldCancel = opts.shouldCancel;
  const len = data.length;
  const w = weights;
  const n = layout(H).count;

  const { Wh: oWh, bh: obh, Wy: oWy, by: oby } = layout(H);

  const g = new Float32Array(n);
  const maxPred = Math.max(1, Math.min(B, len - 1)); // predictions in the longest window
  const hs = new Float32Array((maxPred + 1) * H);
  const P = new Float32Array(maxPred * VOCAB);
  const scratch = new Float32Array(VOCAB);
  const dy = new Float32Array(VOCAB);
  const dh = new Float32Array(H);
  const dr = new Float32Array(H);
  const dnext = new Float32Array(H);
  const used = new Uint8Array(VOCAB);
  const cols = new Int32Array(VOCAB);

  let totalLoss = 0;
  let totalChars = 0;
  for (let pos = 0; pos + 1 < len; pos += B) {
    if (shouldCancel !== undefined && shouldCancel()) return NaN;
    const L = Math.min(B + 1, len - pos);

    // Forward (hs[0..H-1] holds the carried state).
    let wl = 0;
    for (let t = 0; t + 1 < L; t++) {
      step(w, H, hs, t * H, data[pos + t]!, hs, (t + 1) * H);
      readout(w, H, hs, (t + 1) * H, P, t * VOCAB, scratch);
      wl = fround(wl + predLoss(P[t * VOCAB + data[pos + t + 1]!]!));
    }

    // Backward. g and dnext are all zero here.
    used.fill(0);
    for (let t = L - 2; t >= 0; t--) {
      const x = data[pos + t]!;
      const target = data[pos + t + 1]!;
      used[x] = 1;
      const pOff = t * VOCAB;
      const hn = (t + 1) * H;
      const hp = t * H;
      for (let o = 0; o < VOCAB; o++) dy[o] = P[pOff + o]!;
      dy[target] = P[pOff + target]! - 1;
      // b. dby += dy; dWy[o][j] += dy[o]*hn[j]; c. dh[j] = sum over o of Wy[o][j]*dy[o]
      // (then + dnext[j], below).
      for (let o = 0; o < VOCAB; o++) g[oby + o] = g[oby + o]! + dy[o]!;
      backRows(w, g, oWy, VOCAB, H, dy, hs, hn, dh);
      // c (end), d, e (biases and the Wx column).
      for (let i = 0; i < H; i++) {
        const hv = hs[hn + i]!;
        const ri = fround(fround(dh[i]! + dnext[i]!) * fround(1 - fround(hv * hv)));
        dr[i] = ri;
        g[obh + i] = g[obh + i]! + ri;
        g[i * VOCAB + x] = g[i * VOCAB + x]! + ri;
      }
      // e. dWh[i][j] += dr[i]*hp[j].  f. dnext[j] = sum over i (in order) of Wh[i][j]*dr[i].
      backRows(w, g, oWh, H, H, dr, hs, hp, dnext);
    }
    dnext.fill(0);

    // Gradient norm: one float sum in the spec's order; untouched dWx columns are exactly
    // +0 and adding +0 to a sum >= +0 changes nothing, so only used columns are visited.
    let nc = 0;
    for (let c = 0; c < VOCAB; c++) if (used[c] !== 0) cols[nc++] = c;
    let nrm = 0;
    for (let i = 0; i < H; i++) {
      const rx = i * VOCAB;
      for (let c = 0; c < nc; c++) {
        const v = g[rx + cols[c]!]!;
        nrm = fround(nrm + fround(v * v));
      }
      const rh = oWh + i * H;
      for (let j = 0; j < H; j++) {
        const v = g[rh + j]!;
        nrm = fround(nrm + fround(v * v));
      }
      const b = g[obh + i]!;
      nrm = fround(nrm + fround(b * b));
    }
    for (let o = 0; o < VOCAB; o++) {
      const ry = oWy + o * H;
      for (let j = 0; j < H; j++) {
        const v = g[ry + j]!;
        nrm = fround(nrm + fround(v * v));
      }
      const b = g[oby + o]!;
      nrm = fround(nrm + fround(b * b));
    }
    nrm = fround(Math.sqrt(nrm));
    const scale = nrm > clip ? fround(clip / nrm) : 1;
    const k = fround(lrF * scale);

    // Update every parameter, then clear the gradients (dWx: only the used columns).
    for (let q = 0; q < n; q++) w[q] = w[q]! - fround(k * g[q]!);
    for (let i = 0; i < H; i++) {
      const rx = i * VOCAB;
      for (let c = 0; c < nc; c++) g[rx + cols[c]!] = 0;
    }
    g.fill(0, oWh);

    // Carry the state after the window's last input.
    hs.copyWithin(0, (L - 1) * H, L * H);
    totalLoss += wl;
    totalChars += L - 1;
  }
  return totalLoss / fround(fround(totalChars) * LN2_F);
}

/**
 * The trainer's evaluation of `weights` on `data`: float forward pass from h = 0, float
 * readout and softmax, total (double) of -logf(max(p, 1e-8f)) over the len-1 predictions,
 * divided by fround(float(len-1) * ln2).
 */
export function evalBpc(weights: Float32Array, H: number, data: Uint8Array): number {
  checkHidden(H);
  checkWeights(weights, H);
  const len = data.length;
  const hbuf = new Float32Array(2 * H);
  const prob = new Float32Array(VOCAB);
  const scratch = new Float32Array(VOCAB);
  let cur = 0;
  let total = 0;
  for (let t = 0; t + 1 < len; t++) {
    const nxt = H - cur;
    step(weights, H, hbuf, cur, data[t]!, hbuf, nxt);
    readout(weights, H, hbuf, nxt, prob, 0, scratch);
    total += predLoss(prob[data[t + 1]!]!);
    cur = nxt;
  }
  return total / fround(fround(len - 1) * LN2_F);
}
