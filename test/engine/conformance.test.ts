// Every engine primitive on every code path (native AVX2 / AVX-512 / SSE2 / portable loops, js),
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
import { PATHS, hasAvx512, rng } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const backends: [string, Backend][] = PATHS.filter((p) => p.enabled).map((p) => [
  p.label,
  selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 2 }),
]);

const fround = Math.fround;

/**
 * The spec's step with interventions, substitutions and activation patches, one operation
 * at a time: after the step the clamps and sign snaps, then the patch of that position.
 */
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
    // For a neuron listed twice the later entry wins (it acts on the step's value).
    const last = new Map((spec.dynamics?.neurons ?? []).map((n) => [n.neuron, n]));
    for (const [j, n] of last) hn[j] = 'clamp' in n ? n.clamp : hn[j]! >= 0 ? 1 : -1;
    const patch = spec.dynamics?.patch;
    const row = patch ? patch.positions.indexOf(t) : -1;
    if (row >= 0) patch!.neurons.forEach((j, k) => (hn[j] = patch!.values[row * patch!.neurons.length + k]!));
    out.set(hn, t * H);
    h = hn;
  }
  return out;
}

/** The signed mean of each neuron over states [T*H]: the float h_t[j] summed in double in t order, / T. */
function oracleMean(states: Float32Array, H: number): number[] {
  const T = states.length / H;
  const sum = new Array<number>(H).fill(0);
  for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) sum[j] = sum[j]! + states[t * H + j]!;
  return sum.map((x) => x / T);
}

/**
 * A patch at the positions where chunks of size 1, H, n - 2 and 4 start or end, of the
 * given neurons (default: up to 3 random ones), values in (-1.5, 1.5).
 */
function randomPatch(H: number, n: number, r: () => number, neurons = [...new Set([Math.floor(r() * H), Math.floor(r() * H), Math.floor(r() * H)])]) {
  const positions = [...new Set([0, 3, 4, H - 1, H, Math.floor(n / 2), n - 3, n - 2])].filter((t) => t >= 0 && t <= n - 2).sort((a, b) => a - b);
  const values = new Float32Array(positions.length * neurons.length).map(() => 3 * r() - 1.5);
  return { positions, neurons, values };
}

/** A mix of groups: base with stats, weight edits, clamps, sign snaps, substitutions, activation patches. */
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
    { dynamics: { patch: randomPatch(H, n, r) }, use: use(2), stats: true }, // values beyond 1 too
    // The patch wins over a clamp and a sign snap of the same neuron; with substitutions.
    {
      dynamics: {
        neurons: [{ neuron: j, clamp: 0.25 }, { neuron: (j + 1) % H, sign: true }],
        inputs: [{ position: Math.floor(n / 3), byte: 9 }],
        patch: randomPatch(H, n, r, [...new Set([j, (j + 1) % H])]),
      },
      use: use(2),
      stats: true,
    },
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

/** What a promise rejects with, or null when it resolves. */
const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

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
  it.runIf(process.env.CI === 'true')('compares every code path under CI (native AVX2, AVX-512 where the CPU has it, SSE2, portable; js)', () => {
    expect(backends.map(([l]) => l)).toEqual(['native-avx2', ...(hasAvx512 ? ['native-avx512'] : []), 'native-sse2', 'native-scalar', 'js']);
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
            groups.forEach((g, i) => {
              const want = oracleStates(model, text.subarray(0, n - 1), g);
              expect(bitsOf(got.states[i]!), `oracle group ${i}`).toEqual(bitsOf(Array.from(want)));
              if (g.stats) expect(bitsOf((got.stats[i] as { mean: number[] }).mean), `signed mean, group ${i}`).toEqual(bitsOf(oracleMean(want, H)));
            });
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

  it('activation patches: the base run\'s own states change nothing; with a start and inputs they equal the full re-run', async () => {
    const H = 12;
    const n = 150;
    const model = randomModel(H, 41);
    const text = randomText(n, 42);
    const use = new Uint8Array(3 * H).map((_, i) => (i < H ? 1 : i % 4));
    const p = 60; // first substituted input, and the start of the started variants
    const inputs = [{ position: p, byte: 5 }];
    let ref: string | undefined;
    for (const [label, be] of backends) {
      const base = await forwardStates(be, model, text.subarray(0, n - 1));
      // Neurons 2, 7, 11 at every position (or every third), set to the values they have anyway.
      const own = (positions: number[]): { positions: number[]; neurons: number[]; values: Float32Array } => {
        const neurons = [2, 7, 11];
        return { positions, neurons, values: Float32Array.from(positions.flatMap((t) => neurons.map((j) => base.states[t * H + j]!))) };
      };
      const every = Array.from({ length: n - 1 }, (_, t) => t);
      // Donor values for the started variants: from another text's run, at positions >= p.
      const donor = await forwardStates(be, model, randomText(n, 43).subarray(0, n - 1));
      const positions = [p, p + 1, p + 7, p + 8, n - 2];
      const patch = { positions, neurons: [0, 5], values: Float32Array.from(positions.flatMap((t) => [donor.states[t * H]!, donor.states[t * H + 5]!])) };
      const start = { position: p, state: base.states.slice((p - 1) * H, p * H) };
      for (const chunkSize of [undefined, 1, 7, 59]) {
        const patched: number[] = [];
        const res = await evaluate(be, {
          model,
          text,
          ...(chunkSize ? { chunkSize } : {}),
          stream: { states: true },
          onChunk: (c) => {
            for (let t = c.pos0; t < c.pos0 + c.steps; t++) if (positions.includes(t)) patched.push(c.groups[3]!.states![(t - c.pos0) * H]!, c.groups[3]!.states![(t - c.pos0) * H + 5]!);
          },
          groups: [
            { use, stats: true },
            { use, stats: true, dynamics: { patch: own(every) } },
            { use, stats: true, dynamics: { patch: own(every.filter((t) => t % 3 === 0)) } },
            { use, dynamics: { inputs, patch } },
            { use, dynamics: { inputs, patch, start } },
            { use, dynamics: { inputs, patch, start: { ...start, prefix: base.states } } },
          ],
        });
        const [plain, all, third, full, started, withPrefix] = res.groups;
        for (const g of [all!, third!]) {
          expect(bitsOf(Array.from(g.mean)), `${label}: own states`).toEqual(bitsOf(Array.from(plain!.mean)));
          expect(g.stats, `${label}: own states`).toEqual(plain!.stats);
          expect(Array.from(g.finalState!)).toEqual(Array.from(plain!.finalState!));
        }
        // The donor values are the states at the patch positions (and the readout saw them).
        expect(patched, label).toEqual(Array.from(patch.values));
        const unpatched = await evaluate(be, { model, text, groups: [{ use, dynamics: { inputs } }] });
        expect(Array.from(full!.mean)).not.toEqual(Array.from(unpatched.groups[0]!.mean));
        expect(started!.predictions).toBe(n - 1 - p);
        expect(Array.from(started!.finalState!), label).toEqual(Array.from(full!.finalState!));
        expect(withPrefix!.predictions).toBe(n - 1);
        expect(bitsOf(Array.from(withPrefix!.mean)), label).toEqual(bitsOf(Array.from(full!.mean)));
        const key = JSON.stringify(res.groups.map((g) => [Array.from(g.mean), Array.from(g.finalState!)]));
        ref ??= key;
        expect(key, `${label} chunk ${chunkSize}`).toBe(ref);
      }
    }
  });

  it('bad patches raise BAD_OPTION on every path; positions the text never reaches too, naming the last valid one', async () => {
    const H = 4;
    const n = 10;
    const model = randomModel(H, 1);
    const text = randomText(n, 1);
    const v = (k: number): Float32Array => new Float32Array(k);
    const patches: [unknown, RegExp][] = [
      [{ positions: [1.5], neurons: [0], values: v(1) }, /patch position 1.5 must be a non-negative integer/],
      [{ positions: [-1], neurons: [0], values: v(1) }, /patch position -1/],
      [{ positions: [3, 2], neurons: [0], values: v(2) }, /ascending and distinct \(3 then 2\)/],
      [{ positions: [2, 2], neurons: [0], values: v(2) }, /ascending and distinct/],
      [{ positions: [2], neurons: [4], values: v(1) }, /neuron index 4 is out of range 0..3/],
      [{ positions: [2], neurons: [0.5], values: v(1) }, /neuron index 0.5 is not an integer/],
      [{ positions: [2], neurons: [1, 1], values: v(2) }, /neuron 1 is listed twice/],
      [{ positions: [2, 3], neurons: [1, 2], values: v(3) }, /values have length 3; 2 positions x 2 neurons need 4/],
      [{ positions: [2], neurons: [1], values: Float32Array.of(NaN) }, /must be finite/],
      [{ positions: [2], neurons: [1], values: [0.5] }, /patch must be \{ positions/],
      [{ positions: [2], neurons: [1] }, /patch must be/],
      [null, /patch must be/],
      [{ positions: [n - 1], neurons: [1], values: v(1) }, /patch position 9 is past the text's last input \(position 8; the text has 10 bytes\)/],
      [{ positions: [3, n + 5], neurons: [1], values: v(2) }, /patch position 15 is past the text's last input \(position 8/],
    ];
    const stream = async function* (): AsyncGenerator<Uint8Array> {
      yield text.slice(0, 4);
      yield text.slice(4);
    };
    for (const [label, be] of backends) {
      for (const [patch, message] of patches)
        for (const t of [text, () => stream()]) {
          const err = await rejection(evaluate(be, { model, text: t, groups: [{ dynamics: { patch: patch as never } }], chunkSize: 3 }));
          expect(err, `${label} ${JSON.stringify(patch)}`).toBeInstanceOf(SatrnnError);
          expect((err as SatrnnError).code, label).toBe('BAD_OPTION');
          expect((err as SatrnnError).message, label).toMatch(message);
        }
      // Before the start of the dynamics: the start must come first.
      const err = await rejection(evaluate(be, { model, text, groups: [{ dynamics: { start: { position: 5, state: v(H) }, patch: { positions: [4], neurons: [0], values: v(1) } } }] }));
      expect((err as SatrnnError).message, label).toMatch(/patch position 4 is before the dynamics start 5/);
      // Raw chunk requests: both transports check the patch fields themselves.
      const group = { weights: model.weights, state: v(H), patchPos: Float64Array.of(0, 1), patchNeurons: Uint32Array.of(0, 3), patchValues: v(4) };
      const bad: [object, RegExp][] = [
        [{ patchPos: Float64Array.of(1, 0) }, /patchPos must hold ascending/],
        [{ patchPos: Float64Array.of(0.5, 1) }, /patchPos must hold ascending/],
        [{ patchNeurons: Uint32Array.of(0, 4) }, /patchNeurons must hold neuron indices below hidden/],
        [{ patchNeurons: Uint32Array.of(3, 3) }, /patchNeurons must hold distinct/],
        [{ patchValues: v(3) }, /patchValues has length 3, expected 4/],
        [{ patchValues: Float32Array.of(0, 0, Infinity, 0) }, /patchValues must be finite/],
        [{ patchNeurons: undefined }, /patchNeurons must be/],
        [{ patchValues: undefined }, /patchValues must be/],
        [{ patchPos: undefined }, /patchPos must be/],
        [{ patchNeurons: Float64Array.of(0, 3) }, /patchNeurons/],
      ];
      for (const [change, message] of bad) {
        const g = { ...group, ...change };
        for (const k of Object.keys(g)) if ((g as Record<string, unknown>)[k] === undefined) delete (g as Record<string, unknown>)[k];
        const e = await rejection(be.runChunk({ hidden: H, bytes: new Uint8Array(3), pos0: 0, steps: 2, method: 'certified', groups: [g as never] }));
        expect(e, `${label} ${JSON.stringify(change)}`).toBeInstanceOf(SatrnnError);
        expect((e as SatrnnError).code, label).toBe('BAD_OPTION');
        expect((e as SatrnnError).message, `${label} ${Object.keys(change)}`).toMatch(message);
      }
      await be.runChunk({ hidden: H, bytes: new Uint8Array(3), pos0: 0, steps: 2, method: 'certified', groups: [group] }); // the valid one runs
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
