import { describe, expect, it } from 'vitest';
import { evaluate, type GroupSpec } from '../../lib/engine/evaluate.js';
import { selectBackend, type Backend } from '../../lib/engine/index.js';
import { USE } from '../../lib/engine/types.js';
import { workersAvailable } from '../../lib/engine/js/pool.js';
import { SatrnnError } from '../../lib/errors.js';
import { addon, forward, readout, rng, skipExhaustive } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const H = 64;
const model = randomModel(H, 4242);
const text = randomText(1500, 17);
const V = 40;
const keep = new Uint8Array(V * H).fill(1);
const snap = new Uint8Array(V * H);
const r = rng(5);
for (let v = 1; v < V; v++) for (let j = 0; j < H; j++) {
  if (r() < 0.1) keep[v * H + j] = 0;
  if (r() < 0.05) snap[v * H + j] = 1;
}

const configs = [
  ...(addon ? [1, 2, 3, 7].map((threads) => ({ name: 'native' as const, threads })) : []),
  // js: in-process (1) and an uneven split (3) in npm test; 2 as well in test:full.
  ...(skipExhaustive ? [1, 3] : [1, 2, 3]).map((threads) => ({ name: 'js' as const, threads })),
];

describe('batches: results never depend on the thread count', () => {
  it.runIf(process.env.CI === 'true')('js workers are available under CI (dist built by pretest)', () => {
    expect(workersAvailable()).toBe(true);
  });
  it(`${configs.length} configurations agree bit for bit`, async () => {
    const feed = text.subarray(0, text.length - 1);
    let ref: Float64Array | undefined;
    let refMean: Float64Array | undefined;
    let refMany: Float64Array | undefined;
    const keepMany = new Uint8Array(300 * H).fill(1);
    for (let v = 0; v < 300; v++) keepMany[v * H + (v % H)] = 0;
    for (const cfg of configs) {
      const be = selectBackend(cfg);
      const { states } = await forward(be, model, feed);
      const seen: number[] = [];
      const res = await readout(be, 
        { model, states, targets: text.subarray(1), keep, snap, bits: true },
        { onProgress: (done, total) => seen.push(done / total) },
      );
      expect(seen.length).toBeGreaterThan(0);
      expect(seen[seen.length - 1]).toBe(1);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
      ref ??= res.bits!;
      expect(Buffer.compare(Buffer.from(res.bits!.buffer), Buffer.from(ref.buffer)), JSON.stringify(cfg)).toBe(0);
      // Means alone (the native driver then splits positions into a scratch array) equal the
      // means that come with the bits.
      const means = await readout(be, { model, states, targets: text.subarray(1), keep, snap });
      refMean ??= res.mean;
      expect(Array.from(means.mean), JSON.stringify(cfg)).toEqual(Array.from(refMean));
      expect(Array.from(res.mean), JSON.stringify(cfg)).toEqual(Array.from(refMean));
      // A batch large enough for chunks of variants (native, few threads) instead of positions.
      const many = await readout(be, { model, states, targets: text.subarray(1), keep: keepMany });
      refMany ??= many.mean;
      expect(Array.from(many.mean), JSON.stringify(cfg)).toEqual(Array.from(refMany));
    }
  }, 300_000);
});

describe('batches: AbortSignal stops work with a typed error', () => {
  for (const cfg of configs.filter((c) => c.threads <= 2)) {
    it(`${cfg.name}, ${cfg.threads} thread(s)`, async () => {
      const be = selectBackend(cfg);
      const { states } = await forward(be, model, text.subarray(0, text.length - 1));
      const big = new Uint8Array(400 * H).fill(1);
      for (let v = 0; v < 400; v++) big[v * H + (v % H)] = 0;
      const ac = new AbortController();
      const p = readout(be, { model, states, targets: text.subarray(1), keep: big, method: 'ordered' }, { signal: ac.signal });
      setTimeout(() => ac.abort(), 30);
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SatrnnError);
      expect((err as SatrnnError).code).toBe('ABORTED');
      // An already-aborted signal rejects at once.
      await expect(readout(be, { model, states, targets: text.subarray(1), keep }, { signal: AbortSignal.abort() })).rejects.toThrow(/aborted/);
    }, 120_000);
  }
});

/** The exact bit patterns of doubles (so -0, NaN payloads and last bits all count). */
const bitsOf = (a: ArrayLike<number>): string[] => Array.from(new BigUint64Array(Float64Array.from(a).buffer), (x) => x.toString(16));

describe('dynamics variants: fused jobs (many groups, blocks across chunk edges) equal the ordered reference bit for bit', () => {
  const H = 24;
  const dm = randomModel(H, 9001);
  const dtext = randomText(700, 31);
  const rd = rng(77);
  /** V readout variants: the all-value one, knockouts, sign snaps, negations, and repeats (no-change derivations). */
  const useRows = (V: number): Uint8Array => {
    const u = new Uint8Array(V * H).fill(USE.value);
    for (let v = 1; v < V; v++) {
      if (v % 4 === 3) u.copyWithin(v * H, (v - 1) * H, v * H); // the previous variant again
      else for (let j = 0; j < H; j++) if (rd() < 0.15) u[v * H + j] = [USE.absent, USE.sign, USE.negated][Math.floor(rd() * 3)]!;
    }
    return u;
  };
  const pruned = Float32Array.from(dm.weights);
  const whAt = H * 256;
  for (let i = 0; i < H * H; i += 5) pruned[whAt + i] = 0;
  // The base run's states, for a group that starts late and reads them as its prefix.
  const groups: GroupSpec[] = [];
  // Fewer readout variants than eight lanes (positions batched), and more.
  [1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 3].forEach((V, j) => groups.push({ dynamics: { neurons: [{ neuron: j, clamp: 0 }] }, use: useRows(V) }));
  // Clamps beyond [-1, 1]: those blocks must take the ordered sums (a certified update of a
  // huge full sum would round differently).
  groups.push({ dynamics: { neurons: [{ neuron: 11, clamp: 1.5 }] }, use: useRows(3) });
  groups.push({ dynamics: { neurons: [{ neuron: 12, clamp: -3e7 }] }, use: useRows(5), stats: true });
  // Two clamped neurons with equal readout columns and opposite huge values: their terms
  // cancel in every logit, but the partial sums pass through 1e6, where the low bits of the
  // other terms are lost. A knockout derived from the full sums would then differ from the
  // ordered sum in its last bits (which the moderate logits carry into the bits).
  const cancelling = Float32Array.from(dm.weights);
  const wyAt = H * 256 + H * H + H;
  for (let i = 0; i < H; i++) cancelling[whAt + i * H + 14] = cancelling[whAt + i * H + 15] = 0;
  for (let o = 0; o < 256; o++) cancelling[wyAt + o * H + 15] = cancelling[wyAt + o * H + 14]!;
  const knockouts = new Uint8Array(4 * H).fill(USE.value);
  for (let v = 1; v < 4; v++) knockouts[v * H + v] = USE.absent;
  groups.push({ dynamics: { weights: cancelling, neurons: [{ neuron: 14, clamp: 1e6 }, { neuron: 15, clamp: -1e6 }] }, use: knockouts });
  groups.push({ dynamics: { neurons: [{ neuron: 13, sign: true }] }, use: useRows(2), stats: true });
  groups.push({ dynamics: { inputs: [{ position: 300, byte: 7 }] }, use: useRows(1), positions: Array.from({ length: 230 }, (_, i) => 3 * i + 1) });
  groups.push({ dynamics: { weights: pruned }, use: useRows(2), probs: true, positions: [0, 5, 255, 256, 257, 511, 512, 698] });
  groups.push({ use: useRows(12) }); // many variants: readout tiles beside the fused jobs (7 threads)
  groups.push({ dynamics: { neurons: [{ neuron: 2, clamp: 0.25 }] }, stats: true }); // dynamics only

  interface Out {
    mean: string[][];
    bits: string[][];
    probs: string[][];
    stats: string[];
    finalStates: string[];
    certified: boolean;
  }
  async function run(be: Backend, method: 'certified' | 'ordered', chunkSize: number | undefined, streamStates: boolean, gs: GroupSpec[]): Promise<Out> {
    const bits: number[][][] = gs.map(() => []);
    const probs: number[][][] = gs.map(() => []);
    const res = await evaluate(be, {
      model: dm,
      text: dtext,
      groups: gs,
      method,
      ...(chunkSize ? { chunkSize } : {}),
      stream: { bits: true, states: streamStates },
      onChunk: (c) =>
        c.groups.forEach((g, i) => {
          const V = (gs[i]!.use?.length ?? 0) / H;
          for (let v = 0; v < V; v++) (bits[i]![v] ??= []).push(...g.bits!.subarray(v * c.steps, (v + 1) * c.steps));
          // Rows come as [V][P][256] per chunk: regroup per variant across chunks.
          const P = g.rowPositions?.length ?? 0;
          for (let v = 0; v < V && g.probs; v++) (probs[i]![v] ??= []).push(...g.probs.subarray(v * P * 256, (v + 1) * P * 256));
        }),
    });
    return {
      mean: res.groups.map((g) => bitsOf(g.mean)),
      bits: bits.map((vs) => bitsOf(vs.flat())),
      probs: probs.map((vs) => bitsOf(vs.flat())),
      stats: res.groups.map((g) => (g.stats ? JSON.stringify(Object.entries(g.stats).map(([k, v]) => [k, k.startsWith('mean') ? bitsOf(v as Float64Array) : Array.from(v as ArrayLike<number>)])) : '')),
      finalStates: res.groups.map((g) => Array.from(g.finalState ?? []).join(',')),
      certified: res.certified,
    };
  }
  /** Field by field and group by group, so a failure names what differs. */
  const expectSame = (got: Out, ref: Out, label: string): void => {
    for (const k of ['mean', 'bits', 'probs', 'stats', 'finalStates'] as const)
      ref[k].forEach((want, i) => expect(got[k][i], `${label}: ${k} of group ${i}`).toEqual(want));
  };

  // 1-3 threads: every group is one fused job; 7 threads: too few groups per thread, so the
  // groups with many variants (and the ones left over from whole rounds) take the
  // recurrence-and-tiles route beside the fused jobs.
  it('native 1, 2, 3, 7 threads, both methods, chunk sizes that cut blocks, states streamed or not, equal js ordered', async () => {
    const ref = await run(selectBackend({ name: 'js', threads: 1 }), 'ordered', undefined, false, groups);
    expect(ref.certified).toBe(false);
    const natives = addon ? [1, 2, 3, 7].map((threads) => selectBackend({ name: 'native', threads })) : [];
    for (const be of [...natives, selectBackend({ name: 'js', threads: 2 })])
      for (const method of ['certified', 'ordered'] as const)
        for (const [chunkSize, streamStates] of [[undefined, false], [200, false], [257, true], [129, false]] as const) {
          if (be.name === 'js' && chunkSize !== 257) continue; // the slow path: one configuration
          const got = await run(be, method, chunkSize, streamStates, groups);
          expectSame(got, ref, `${be.name} ${be.threads} threads, ${method}, chunk ${chunkSize}`);
          // Clamps outside [-1, 1]: the certified method reports the ordered sums it used.
          expect(got.certified).toBe(false);
        }
  }, 300_000);

  it('clamps within [-1, 1] keep the certified route (many groups, one variant each)', async () => {
    const small = Array.from({ length: 9 }, (_, j): GroupSpec => ({ dynamics: { neurons: [{ neuron: j, clamp: j % 2 ? -1 : 0 }] }, use: useRows(1) }));
    const ref = await run(selectBackend({ name: 'js', threads: 1 }), 'ordered', undefined, false, small);
    for (const be of addon ? [1, 2].map((threads) => selectBackend({ name: 'native', threads })) : []) {
      const got = await run(be, 'certified', 300, false, small);
      expect(got.certified, `${be.threads} threads`).toBe(true);
      expectSame(got, ref, `${be.threads} threads`);
    }
  }, 120_000);
});
