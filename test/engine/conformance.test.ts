// Every engine primitive on every code path (native AVX2 / SSE2 / portable loops, js),
// random models and variants, chunk boundaries at awkward places: results must be
// identical bit for bit, chunked runs must equal whole runs, and the dynamics must equal a
// literal transcription of the spec (oracle below).
import { describe, expect, it } from 'vitest';
import { applyEdits } from '../../lib/engine/edits.js';
import { evaluate, type GroupSpec } from '../../lib/engine/evaluate.js';
import { selectBackend, type Backend } from '../../lib/engine/index.js';
import { forwardStates } from '../../lib/engine/primitives.js';
import { SatrnnError } from '../../lib/errors.js';
import { tanhf } from '../../lib/math/float32.js';
import { log2 } from '../../lib/math/float64.js';
import { Model, VOCAB } from '../../lib/model.js';
import { PATHS, rng } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const backends: [string, Backend][] = PATHS.filter((p) => p.enabled).map((p) => [
  p.label,
  selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 2 }),
]);

const fround = Math.fround;

/** The spec's step with interventions and substitutions, one operation at a time. */
function oracleStates(model: Model, bytes: Uint8Array, spec: GroupSpec): Float32Array {
  const H = model.hidden;
  const w = spec.dynamics?.weights ? new Model(spec.dynamics.weights, H) : model;
  const out = new Float32Array(bytes.length * H);
  let h = new Float32Array(H);
  for (let t = 0; t < bytes.length; t++) {
    const sub = spec.dynamics?.inputs?.find((s) => s.position === t);
    const x = sub ? sub.byte : bytes[t]!;
    const hn = new Float32Array(H);
    for (let i = 0; i < H; i++) {
      let z = fround(w.bh[i]! + w.Wx[i * VOCAB + x]!);
      for (let j = 0; j < H; j++) z = fround(z + fround(w.Wh[i * H + j]! * h[j]!));
      hn[i] = tanhf(z);
    }
    for (const n of spec.dynamics?.neurons ?? []) hn[n.neuron] = 'clamp' in n ? n.clamp : hn[n.neuron]! >= 0 ? 1 : -1;
    out.set(hn, t * H);
    h = hn;
  }
  return out;
}

/** A mix of groups: base with stats, weight edits, clamps, sign snaps, substitutions. */
function randomGroups(model: Model, n: number, seed: number): GroupSpec[] {
  const H = model.hidden;
  const r = rng(seed);
  const use = (V: number): Uint8Array => {
    const u = new Uint8Array(V * H).fill(1);
    for (let i = H; i < u.length; i++) u[i] = Math.floor(r() * 4); // variant 0: the full readout
    return u;
  };
  const mask = new Uint8Array(H * VOCAB).map(() => (r() < 0.7 ? 1 : 0));
  const j = Math.floor(r() * H);
  return [
    { use: use(5), stats: true },
    { dynamics: { weights: applyEdits(model, [{ matrix: 'Wh', threshold: 0.2 }]).weights }, use: use(3), stats: true },
    { dynamics: { weights: applyEdits(model, [{ matrix: 'Wx', keep: mask }, { whColumn: j }]).weights }, use: use(2) },
    { dynamics: { neurons: [{ neuron: j, clamp: 0 }, { neuron: (j + 1) % H, clamp: 0.75 }] }, use: use(2), stats: true },
    { dynamics: { neurons: [{ neuron: (j + 2) % H, sign: true }] }, use: use(2) },
    { dynamics: { inputs: [{ position: Math.floor(n / 2), byte: 7 }, { position: 0, byte: 200 }] }, use: use(2) },
    { dynamics: { neurons: [{ neuron: j, clamp: 3 }] }, use: use(2) }, // |h| > 1: the readout must fall back to ordered sums
  ];
}

interface Run {
  mean: number[][];
  stats: unknown[];
  finalStates: number[][];
  bits: number[][];
  states: number[][];
  certified: boolean;
}

async function runAll(be: Backend, model: Model, text: Uint8Array | (() => AsyncIterable<Uint8Array>), groups: GroupSpec[], chunkSize?: number): Promise<Run> {
  const bits: number[][] = groups.map(() => []);
  const perVariant: number[][][] = groups.map(() => []);
  const states: number[][] = groups.map(() => []);
  const res = await evaluate(be, {
    model,
    text,
    groups,
    ...(chunkSize ? { chunkSize } : {}),
    stream: { bits: true, states: true },
    onChunk: (c) =>
      c.groups.forEach((g, i) => {
        // bits come as [V][steps] per chunk: regroup per variant across chunks.
        const V = (groups[i]!.use?.length ?? 0) / model.hidden;
        for (let v = 0; v < V; v++) (perVariant[i]![v] ??= []).push(...g.bits!.subarray(v * c.steps, (v + 1) * c.steps));
        states[i]!.push(...(g.states ?? []));
      }),
  });
  perVariant.forEach((vs, i) => bits[i]!.push(...vs.flat()));
  return {
    mean: res.groups.map((g) => Array.from(g.mean)),
    stats: res.groups.map((g) => (g.stats ? Object.fromEntries(Object.entries(g.stats).map(([k, v]) => [k, Array.from(v as ArrayLike<number>)])) : null)),
    finalStates: res.groups.map((g) => Array.from(g.finalState ?? [])),
    bits,
    states,
    certified: res.certified,
  };
}

/** Bit patterns, so -0 vs +0 and NaN payloads count as differences. */
const bitsOf = (xs: number[]): string[] => xs.map((x) => (Object.is(x, -0) ? '-0' : String(x)));
const same = (a: Run, b: Run): void => {
  expect(a.mean.map(bitsOf)).toEqual(b.mean.map(bitsOf));
  expect(a.bits.map(bitsOf)).toEqual(b.bits.map(bitsOf));
  expect(a.states.map(bitsOf)).toEqual(b.states.map(bitsOf));
  expect(a.finalStates.map(bitsOf)).toEqual(b.finalStates.map(bitsOf));
  expect(a.stats).toEqual(b.stats);
  expect(a.certified).toBe(b.certified);
};

describe('engine conformance: every path, chunked = whole, dynamics = the spec', () => {
  it.runIf(process.env.CI === 'true')('compares all four code paths under CI (native AVX2, SSE2, portable; js)', () => {
    expect(backends.map(([l]) => l)).toEqual(['native-avx2', 'native-sse2', 'native-scalar', 'js']);
  });

  const cases: [number, number][] = [
    [1, 2],
    [1, 40],
    [5, 3],
    [5, 130],
    [16, 64],
    [33, 200],
  ];
  for (const [H, n] of cases)
    it(`H=${H}, n=${n}`, async () => {
      const model = randomModel(H, 31 * H + n);
      const text = randomText(n, H + 7 * n);
      const groups = randomGroups(model, n, H * n);
      // Chunks: whole, one prediction, H-aligned, all but the last, and a stream of 3-byte blocks.
      const sizes = [undefined, 1, Math.max(1, H), Math.max(1, n - 2)];
      let ref: Run | undefined;
      for (const [, be] of backends) {
        for (const size of sizes) {
          const got = await runAll(be, model, text, groups, size);
          if (!ref) {
            ref = got;
            // The dynamics of every group equal the literal spec.
            groups.forEach((g, i) => expect(bitsOf(got.states[i]!), `oracle group ${i}`).toEqual(bitsOf(Array.from(oracleStates(model, text.subarray(0, n - 1), g)))));
            expect(got.certified).toBe(false); // the clamp-to-3 group
          } else same(got, ref);
        }
        const stream = async function* (): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < text.length; i += 3) yield text.slice(i, i + 3);
        };
        same(await runAll(be, model, () => stream(), groups, 4), ref!);
      }
    }, 120_000);

  it('readout at chosen positions, probability rows, and a variant started from the base state', async () => {
    const H = 11;
    const n = 90;
    const model = randomModel(H, 21);
    const text = randomText(n, 22);
    const use = new Uint8Array(3 * H).map((_, i) => (i < H ? 1 : i % 3));
    const positions = [0, 5, 17, 18, 40, 88];
    const p = 30; // substitution position
    let ref: string | undefined;
    for (const [label, be] of backends) {
      const base = await forwardStates(be, model, text.subarray(0, n - 1));
      const start = { position: p, state: base.states.slice((p - 1) * H, p * H) };
      for (const chunkSize of [undefined, 7]) {
        const bits: number[][] = [[], [], []];
        const rowPos: number[] = [];
        let rowsChecked = 0;
        const states: number[] = [];
        const res = await evaluate(be, {
          model,
          text,
          ...(chunkSize ? { chunkSize } : {}),
          groups: [
            { use },
            { use, positions, probs: true },
            { use, dynamics: { inputs: [{ position: p, byte: 3 }] } },
            { use, dynamics: { inputs: [{ position: p, byte: 3 }], start } },
            { use, dynamics: { inputs: [{ position: p, byte: 3 }], start: { ...start, prefix: base.states } } },
          ],
          stream: { bits: true, states: true },
          onChunk: (c) => {
            for (let v = 0; v < 3; v++) bits[v]!.push(...c.groups[0]!.bits!.subarray(v * c.steps, (v + 1) * c.steps));
            // Probability rows: -log2(P[y]) is the bits of that prediction, variant by variant.
            const rp = c.groups[1]!.rowPositions!;
            rowPos.push(...rp);
            rp.forEach((q, r) => {
              for (let v = 0; v < 3; v++) {
                const row = c.groups[1]!.probs!.subarray((v * rp.length + r) * 256, (v * rp.length + r + 1) * 256);
                expect(-log2(Math.max(row[text[q + 1]!]!, 1e-30)), `${label} P row v=${v} t=${q}`).toBe(c.groups[0]!.bits![v * c.steps + q - c.pos0]);
                rowsChecked++;
              }
            });
            states.push(...c.groups[3]!.states!.subarray(Math.max(0, p - c.pos0) * H));
          },
        });
        // Positions: the mean over the chosen positions, summed in t order.
        const g1 = res.groups[1]!;
        expect(g1.predictions).toBe(positions.length);
        for (let v = 0; v < 3; v++) {
          let t = 0;
          for (const q of positions) t = t + bits[v]![q]!;
          expect(g1.mean[v], label).toBe(t / positions.length);
        }
        expect(rowPos).toEqual(positions);
        expect(rowsChecked).toBe(3 * positions.length);
        // A started variant equals the full re-run from its start on.
        const full = res.groups[2]!;
        const started = res.groups[3]!;
        expect(started.predictions).toBe(n - 1 - p);
        expect(Array.from(started.finalState!)).toEqual(Array.from(full.finalState!));
        // With the base states before the start as its prefix, it is the full re-run, bit for bit.
        const withPrefix = res.groups[4]!;
        expect(withPrefix.predictions).toBe(n - 1);
        expect(Array.from(withPrefix.mean), label).toEqual(Array.from(full.mean));
        const key = JSON.stringify([res.groups.map((g) => Array.from(g.mean)), states]);
        ref ??= key;
        expect(key, `${label} chunk ${chunkSize}`).toBe(ref);
      }
    }
  });

  it('certified and ordered readouts agree, with the negated and sign use codes', async () => {
    const H = 24;
    const model = randomModel(H, 5);
    const text = randomText(300, 6);
    const use = new Uint8Array(40 * H).map((_, i) => (i < H ? 1 : (i * 2654435761) % 4));
    for (const [label, be] of backends) {
      const a = await evaluate(be, { model, text, groups: [{ use }], method: 'certified' });
      const b = await evaluate(be, { model, text, groups: [{ use }], method: 'ordered' });
      expect(Array.from(a.groups[0]!.mean), label).toEqual(Array.from(b.groups[0]!.mean));
    }
  });

  it('pre-activations: tanhf(pre) = state where no intervention acts', async () => {
    const model = randomModel(9, 2);
    const text = randomText(50, 3);
    for (const [label, be] of backends) {
      const { states, pre } = await forwardStates(be, model, text, { pre: true });
      expect(Array.from(pre!).map((z) => tanhf(z)), label).toEqual(Array.from(states));
    }
  });

  it('bad requests raise BAD_OPTION on every path', async () => {
    const model = randomModel(4, 1);
    const text = randomText(10, 1);
    const bad: GroupSpec[][] = [
      [{ dynamics: { neurons: [{ neuron: 4, clamp: 0 }] } }],
      [{ dynamics: { neurons: [{ neuron: 1.5, clamp: 0 }] } }],
      [{ dynamics: { inputs: [{ position: -1, byte: 0 }] } }],
      [{ dynamics: { inputs: [{ position: 1, byte: 256 }] } }],
      [{ dynamics: { weights: new Float32Array(3) } }],
      [{ use: new Uint8Array(5) }],
    ];
    for (const [label, be] of backends)
      for (const groups of bad) {
        const err = await evaluate(be, { model, text, groups }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, label).toBeInstanceOf(SatrnnError);
        expect((err as SatrnnError).code, label).toBe('BAD_OPTION');
      }
    // Raw chunk requests with wrong lengths: both transports raise BAD_OPTION.
    for (const [label, be] of backends) {
      const err = await be
        .runChunk({ hidden: 4, bytes: new Uint8Array(3), pos0: 0, steps: 2, method: 'certified', groups: [{ weights: model.weights, states: new Float32Array(5), use: new Uint8Array(4), totals: new Float64Array(1) }] })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect((err as SatrnnError).code, label).toBe('BAD_OPTION');
      const given = { weights: model.weights, states: new Float32Array(8), use: new Uint8Array(4).fill(1), totals: new Float64Array(1), from: 1 };
      const err2 = await be.runChunk({ hidden: 4, bytes: new Uint8Array(3), pos0: 0, steps: 2, method: 'certified', groups: [given] }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err2 as SatrnnError).code, `${label}: from with given states`).toBe('BAD_OPTION');
    }
  });

  it('an aborted long forward pass rejects with ABORTED before it completes', async () => {
    const model = randomModel(128, 3);
    const text = randomText(400_000, 4);
    for (const [label, be] of backends.filter(([l]) => l !== 'native-scalar' && l !== 'native-sse2')) {
      const ac = new AbortController();
      let done = false;
      const p = evaluate(be, { model, text, groups: [{ stats: true }], chunkSize: 1 << 20 }, { signal: ac.signal }).then(() => (done = true));
      setTimeout(() => ac.abort(), 100);
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(done, label).toBe(false);
      expect((err as SatrnnError).code, label).toBe('ABORTED');
    }
  }, 60_000);
});
