import { describe, expect, it } from 'vitest';
import { evaluate } from '../../lib/engine/evaluate.js';
import { selectBackend, type Backend } from '../../lib/engine/index.js';
import { readoutStates } from '../../lib/engine/primitives.js';
import { USE } from '../../lib/engine/types.js';
import { PATHS, forward, readout, rng } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const paths = PATHS.filter((p) => p.enabled);
const backends: [string, Backend][] = paths.map((p) => [
  p.label,
  selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 2 }),
]);

const bitsOf32 = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
const bitsOf64 = (a: Float64Array): BigUint64Array => new BigUint64Array(a.buffer, a.byteOffset, a.length);

function firstDiff<T>(a: ArrayLike<T>, b: ArrayLike<T>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Random readout variants: the full model, knockouts, keep-only subsets, sign snaps. */
function randomVariants(H: number, V: number, seed: number): { keep: Uint8Array; snap: Uint8Array } {
  const r = rng(seed);
  const keep = new Uint8Array(V * H).fill(1);
  const snap = new Uint8Array(V * H);
  for (let v = 1; v < V; v++) {
    const pKeep = [0.95, 0.5, 0.1][v % 3]!;
    for (let j = 0; j < H; j++) {
      keep[v * H + j] = r() < pKeep ? 1 : 0;
      snap[v * H + j] = r() < 0.2 ? 1 : 0;
    }
  }
  return { keep, snap };
}

const cases: [number, number][] = [
  [1, 2],
  [1, 3000],
  [7, 2],
  [7, 100],
  [7, 3000],
  [128, 2],
  [128, 100],
  [128, 3000],
  [200, 100],
  [200, 3000],
];

describe('cross-backend: identical float32 trajectories and readout doubles', () => {
  for (const [H, n] of cases) {
    it(`H=${H}, n=${n}`, async () => {
      const model = randomModel(H, H * 7919 + n);
      const text = randomText(n, n + H);
      const feed = text.subarray(0, n - 1);
      const targets = text.subarray(1);
      // Fewer variants where the pure-JS readout would be slow.
      const V = H * n > 100_000 ? 3 : 8;
      const { keep, snap } = randomVariants(H, V, H + n);
      let ref: { label: string; states: Float32Array; mean: Float64Array; bits: Float64Array } | undefined;
      for (const [name, be] of backends) for (const method of ['ordered', 'certified'] as const) {
        const label = `${name}/${method}`;
        const tr = await forward(be, model, feed);
        expect(tr.states.length).toBe((n - 1) * H);
        const ro = await readout(be, { model, states: tr.states, targets, keep, snap, bits: true, method });
        expect(ro.method).toBe(method);
        const cur = { label, states: tr.states, mean: ro.mean, bits: ro.bits! };
        for (const x of cur.mean) expect(Number.isFinite(x)).toBe(true);
        if (!ref) {
          ref = cur;
          continue;
        }
        expect(firstDiff(bitsOf32(cur.states), bitsOf32(ref.states)), `${label} vs ${ref.label}: states`).toBe(-1);
        expect(firstDiff(bitsOf64(cur.bits), bitsOf64(ref.bits)), `${label} vs ${ref.label}: bits`).toBe(-1);
        expect(firstDiff(bitsOf64(cur.mean), bitsOf64(ref.mean)), `${label} vs ${ref.label}: mean`).toBe(-1);
      }
    }, 300_000);
  }

  it('certified readout falls back where subtraction would round (huge biases), and stays identical', async () => {
    const H = 16;
    const model = randomModel(H, 77);
    // A large output bias makes the full sum lose low bits of small products: the
    // certificate must refuse those logits rather than subtract.
    model.by.fill(3e7);
    const text = randomText(200, 3);
    const V = 4;
    const keep = new Uint8Array(V * H).fill(1);
    for (let v = 1; v < V; v++) keep[v * H + v] = 0;
    const results: Float64Array[] = [];
    for (const [, be] of backends) {
      const tr = await forward(be, model, text.subarray(0, 199));
      const req = { model, states: tr.states, targets: text.subarray(1), keep, bits: true };
      const ordered = await readout(be, { ...req, method: 'ordered' });
      const cert = await readout(be, { ...req, method: 'certified' });
      expect(cert.fallbacks).toBeGreaterThan(0);
      expect(Array.from(bitsOf64(cert.bits!))).toEqual(Array.from(bitsOf64(ordered.bits!)));
      results.push(cert.bits!);
    }
    for (const r of results) expect(Array.from(bitsOf64(r))).toEqual(Array.from(bitsOf64(results[0]!)));
  });

  it('softmax rows outside the vector exp range (spread > 512, all logits < -1e30) stay identical', async () => {
    const H = 12;
    const text = randomText(120, 5);
    const variants = randomVariants(H, 19, 8);
    const results: BigUint64Array[] = [];
    for (const spread of ['wide', 'all-below-max-init'] as const) {
      const model = randomModel(H, 91);
      if (spread === 'wide') for (let o = 0; o < 256; o += 3) model.by[o] = -600 - o;
      else model.by.fill(-3e38);
      for (const [label, be] of backends) {
        const tr = await forward(be, model, text.subarray(0, 119));
        const req = { model, states: tr.states, targets: text.subarray(1), ...variants, bits: true };
        const ordered = await readout(be, { ...req, method: 'ordered' });
        const cert = await readout(be, { ...req, method: 'certified' });
        expect(bitsOf64(cert.bits!), label).toEqual(bitsOf64(ordered.bits!));
        if (spread === 'all-below-max-init') expect(ordered.bits![0]).toBeCloseTo(-Math.log2(1e-30), 9);
        results.push(bitsOf64(cert.bits!));
      }
    }
    const per = backends.length;
    for (let i = 0; i < results.length; i++) expect(results[i]).toEqual(results[i - (i % per)]);
  });

  for (const saturated of [false, true])
    it(`nested variants (certified chains of updates) equal ordered sums, ${saturated ? 'saturated' : 'soft'} model`, async () => {
      const H = 32;
      const model = randomModel(H, saturated ? 11 : 12);
      if (saturated) for (let i = 0; i < model.Wx.length; i++) model.Wx[i] = model.Wx[i]! * 8;
      const text = randomText(400, 5);
      const r = rng(99);
      const order = Array.from({ length: H }, (_, j) => j).sort(() => r() - 0.5);
      const rows: { keep: number[]; snap: number[] }[] = [];
      for (let k = 0; k <= H; k++) rows.push({ keep: order.filter((_, i) => i >= k), snap: [] }); // cumulative
      for (let k = 1; k <= H; k += 3) rows.push({ keep: order.slice(0, k), snap: [] }); // keep-top-k
      for (let k = 0; k < H; k++) rows.push({ keep: order, snap: order.slice(0, k) }); // growing sign snaps
      for (let k = 0; k < 10; k++) rows.push({ keep: order.slice(k), snap: order.slice(k, 2 * k) }); // mixed
      const V = rows.length;
      const keep = new Uint8Array(V * H);
      const snap = new Uint8Array(V * H);
      rows.forEach((row, v) => {
        for (const j of row.keep) keep[v * H + j] = 1;
        for (const j of row.snap) snap[v * H + j] = 1;
      });
      let ref: BigUint64Array | undefined;
      for (const [name, be] of backends) {
        const tr = await forward(be, model, text.subarray(0, 399));
        const req = { model, states: tr.states, targets: text.subarray(1), keep, snap, bits: true };
        for (const method of ['ordered', 'certified'] as const) {
          const got = bitsOf64((await readout(be, { ...req, method })).bits!);
          if (!ref) ref = got;
          expect(firstDiff(got, ref), `${name}/${method}`).toBe(-1);
        }
      }
    });

  it('the certificate sees tiny products output by output: the same ordered fallbacks on every path', async () => {
    // One neuron whose state is always tiny (|h| ~ 2^-70) and which only a few outputs read
    // (its Wy column is zero elsewhere): exactly those outputs' logits fail the certificate
    // (their products are multiples of ~2^-94 only) and are re-summed in order, on every
    // path: vector kernels that lost track of a product's exponent in some lanes would
    // certify them and report fewer fallbacks. The outputs cover each lane group of the
    // AVX2 (8) and AVX-512 (16, in pairs of blocks) exponent tracking.
    const H = 32;
    const tiny = 5;
    const readers = [3, 13, 20, 29, 50, 100, 210, 255];
    const model = randomModel(H, 8);
    const r = rng(81);
    for (let i = 0; i < model.Wy.length; i++) model.Wy[i] = Math.fround(2 * r() - 1);
    for (let o = 0; o < 256; o++) {
      model.by[o] = Math.fround(r() - 0.5);
      if (!readers.includes(o)) model.Wy[o * H + tiny] = 0;
    }
    const T = 200;
    const states = Float32Array.from({ length: T * H }, (_, i) => (i % H === tiny ? (r() < 0.5 ? -1 : 1) * 2 ** -70 * (1 + r()) : 1.8 * r() - 0.9));
    const targets = Uint8Array.from({ length: T }, () => Math.floor(r() * 256));
    // The full readout and every single knockout but the tiny neuron's: all derived from the full sums.
    const keep = new Uint8Array(H * H).fill(1);
    for (let v = 1; v < H; v++) keep[v * H + (v === tiny ? 0 : v)] = 0;
    let ref: { label: string; bits: BigUint64Array; fallbacks: number } | undefined;
    for (const [label, be] of backends) {
      const cert = await readout(be, { model, states, targets, keep, bits: true, method: 'certified' });
      const ordered = await readout(be, { model, states, targets, keep, bits: true, method: 'ordered' });
      expect(firstDiff(bitsOf64(cert.bits!), bitsOf64(ordered.bits!)), `${label}: certified vs ordered`).toBe(-1);
      // Every derived variant re-sums at least the reading outputs at every position (a few
      // others too, where a state happens to be small), and every path decides alike.
      expect(cert.fallbacks, label).toBeGreaterThanOrEqual(readers.length * T * (H - 1));
      const cur = { label, bits: bitsOf64(cert.bits!), fallbacks: cert.fallbacks };
      ref ??= cur;
      expect(cur.fallbacks, `${label} vs ${ref.label}: fallbacks`).toBe(ref.fallbacks);
      expect(firstDiff(cur.bits, ref.bits), `${label} vs ${ref.label}`).toBe(-1);
    }
  });

  it('certified readout is skipped (ordered used) for states outside [-1, 1]', async () => {
    const model = randomModel(4, 1);
    const states = new Float32Array(8).fill(2);
    for (const [, be] of backends) {
      const r = await readout(be, { model, states, targets: new Uint8Array(2), keep: new Uint8Array(4).fill(1) });
      expect(r.method).toBe('ordered');
    }
  });

  it('forward from a given h0 equals continuing a run', async () => {
    const model = randomModel(7, 5);
    const text = randomText(50, 9);
    for (const [, be] of backends) {
      const whole = await forward(be, model, text);
      const first = await forward(be, model, text.subarray(0, 20));
      const rest = await forward(be, model, text.subarray(20), first.states.subarray(19 * 7, 20 * 7));
      expect(Array.from(rest.states)).toEqual(Array.from(whole.states.subarray(20 * 7)));
    }
  });
});

describe('few readout variants: several positions share the eight-lane softmax', () => {
  const H = 16;
  const model = randomModel(H, 4711); // has subnormal weights: some logits fall back to ordered sums
  const text = randomText(302, 12);
  const r = rng(3);
  /** V variants: all-value, knockouts, snaps, negations, a repeat (no-change derivation), nested knockouts. */
  function variants(V: number): Uint8Array {
    const u = new Uint8Array(V * H).fill(USE.value);
    for (let v = 1; v < V; v++) {
      if (v === 2) u.copyWithin(v * H, H, 2 * H);
      else if (v >= 5) {
        u.copyWithin(v * H, (v - 1) * H, v * H);
        u[v * H + v] = USE.absent;
      } else for (let j = 0; j < H; j++) if (r() < 0.2) u[v * H + j] = [USE.absent, USE.sign, USE.negated][Math.floor(r() * 3)]!;
    }
    return u;
  }
  for (let V = 1; V <= 9; V++)
    it(`V=${V}: bits, means and probability rows at sparse positions equal on every path and method`, async () => {
      const use = variants(V);
      const positions = Array.from({ length: 300 }, (_, t) => t).filter((t) => t % 7 === 0 || t % 11 === 3 || t > 290);
      let ref: { label: string; bits: BigUint64Array; mean: BigUint64Array; rows: BigUint64Array; sparse: BigUint64Array } | undefined;
      for (const [name, be] of backends) {
        const { states } = await forward(be, model, text.subarray(0, 301));
        for (const method of ['ordered', 'certified'] as const) {
          const label = `${name}/${method}`;
          const whole = await readoutStates(be, { model, states, targets: text.subarray(1, 302), use, bits: true, method });
          const rows: number[] = [];
          const sparse = await evaluate(be, {
            model,
            text: text.subarray(0, 302),
            groups: [{ states, use, positions, probs: true }],
            method,
            chunkSize: 97,
            onChunk: (c) => rows.push(...(c.groups[0]!.probs ?? [])),
          });
          const cur = { label, bits: bitsOf64(whole.bits!), mean: bitsOf64(whole.mean), rows: bitsOf64(Float64Array.from(rows)), sparse: bitsOf64(sparse.groups[0]!.mean) };
          if (!ref) {
            ref = cur;
            continue;
          }
          expect(firstDiff(cur.bits, ref.bits), `${label} vs ${ref.label}: bits`).toBe(-1);
          expect(firstDiff(cur.mean, ref.mean), `${label} vs ${ref.label}: mean`).toBe(-1);
          expect(firstDiff(cur.rows, ref.rows), `${label} vs ${ref.label}: probability rows`).toBe(-1);
          expect(firstDiff(cur.sparse, ref.sparse), `${label} vs ${ref.label}: means at the positions`).toBe(-1);
        }
      }
    }, 120_000);
});

// Every kind of readout variant on every path at H = 128 (whole 16-output blocks, so every
// vector width runs its full-width kernels), both methods: the native ISAs' logit sums,
// derivations and eight-lane softmax must give the scalar code's bits in every lane. The
// batch mixes knockouts, keep-only sets (indexed and dense ordered sums), sign snaps,
// negations, fixed values (a neuron read as its mean), cumulative chains, a repeat, random
// mixes, and rows the certificate refuses (subnormal weights: ordered fallbacks), with V
// not a multiple of 8 so predictions of several positions share one softmax pass.
describe('every variant kind on every path (H = 128), bit for bit', () => {
  const H = 128;
  const model = randomModel(H, 2024);
  // Subnormal weights on a few outputs: those logits fail the certificate and are re-summed.
  for (const o of [3, 97, 200]) for (let j = 0; j < H; j += 5) model.Wy[o * H + j] = (j % 2 ? 1 : -1) * 3e-41;
  const text = randomText(150, 77);
  const n = text.length;
  const r = rng(5);
  const order = Array.from({ length: H }, (_, j) => j).sort(() => r() - 0.5);
  const rows: { use: number[]; values?: number[] }[] = [];
  const all = (code: number): number[] => new Array<number>(H).fill(code);
  rows.push({ use: all(USE.value) });
  for (const j of [0, 17, 64, 127]) rows.push({ use: all(USE.value).map((c, i) => (i === j ? USE.absent : c)) }); // knockouts
  for (let k = 1; k <= 24; k++) rows.push({ use: all(USE.value).map((c, i) => (order.indexOf(i) < k ? USE.absent : c)) }); // cumulative
  rows.push({ use: rows[rows.length - 1]!.use.slice() }); // a repeat: no change from the previous variant
  for (const k of [1, 5, 40, 100]) rows.push({ use: all(USE.absent).map((c, i) => (order.indexOf(i) < k ? USE.value : c)) }); // keep-only
  for (const k of [1, 10]) rows.push({ use: all(USE.value).map((c, i) => (order.indexOf(i) < k ? USE.sign : c)) }); // sign snaps
  rows.push({ use: all(USE.value).map((c, i) => (i % 3 === 0 ? USE.negated : c)) });
  const mean = Array.from({ length: H }, () => Math.fround(r() * 1.6 - 0.8));
  rows.push({ use: all(USE.value).map((c, i) => (i === 9 ? USE.fixed : c)), values: mean }); // one neuron read as its mean
  rows.push({ use: all(USE.fixed), values: mean }); // every neuron fixed
  rows.push({ use: all(USE.value).map((c, i) => (i < 20 ? USE.fixed : i < 40 ? USE.absent : c)), values: mean.map((m) => m * 4) }); // |value| > 1
  for (let v = 0; v < 6; v++) rows.push({ use: Array.from({ length: H }, () => Math.floor(r() * 5)), values: mean }); // random mixes
  const V = rows.length;
  const use = new Uint8Array(V * H);
  const useValues = new Float32Array(V * H);
  rows.forEach((row, v) => {
    use.set(row.use, v * H);
    if (row.values) useValues.set(row.values, v * H);
  });
  const positions = Array.from({ length: n - 1 }, (_, t) => t).filter((t) => t % 9 === 4 || t > n - 5);

  it(`${V} variants × ${n - 1} positions, ordered and certified: bits, means and probability rows identical`, async () => {
    expect(V % 8).not.toBe(0);
    let ref: { label: string; bits: BigUint64Array; mean: BigUint64Array; rows: BigUint64Array } | undefined;
    for (const [name, be] of backends) {
      const { states } = await forward(be, model, text.subarray(0, n - 1));
      for (const method of ['ordered', 'certified'] as const) {
        const label = `${name}/${method}`;
        const perVariant: number[][] = Array.from({ length: V }, () => []);
        const probRows: number[] = [];
        const whole = await evaluate(be, {
          model,
          text,
          groups: [{ states, use, useValues }, { states, use, useValues, positions, probs: true }],
          method,
          chunkSize: 61,
          stream: { bits: true },
          onChunk: (c) => {
            const g = c.groups[0]!;
            for (let v = 0; v < V; v++) perVariant[v]!.push(...g.bits!.subarray(v * c.steps, (v + 1) * c.steps));
            probRows.push(...(c.groups[1]!.probs ?? []));
          },
        });
        if (method === 'certified') expect(whole.fallbacks, `${label}: the subnormal rows need the ordered fallback`).toBeGreaterThan(0);
        const cur = {
          label,
          bits: bitsOf64(Float64Array.from(perVariant.flat())),
          mean: bitsOf64(Float64Array.from([...whole.groups[0]!.mean, ...whole.groups[1]!.mean])),
          rows: bitsOf64(Float64Array.from(probRows)),
        };
        expect(cur.bits.length).toBe(V * (n - 1));
        if (!ref) {
          ref = cur;
          continue;
        }
        expect(firstDiff(cur.bits, ref.bits), `${label} vs ${ref.label}: bits`).toBe(-1);
        expect(firstDiff(cur.mean, ref.mean), `${label} vs ${ref.label}: means`).toBe(-1);
        expect(firstDiff(cur.rows, ref.rows), `${label} vs ${ref.label}: probability rows`).toBe(-1);
      }
    }
  }, 300_000);
});
