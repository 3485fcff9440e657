// Interventions: each kind equals the engine evaluation it stands for, the checks that must
// hold by construction (a patch from the same run and a mean ablation of a constant neuron
// change nothing; patching every neuron everywhere reads out the donor's states), the
// dynamics knockout, errors, and the same doubles on every path.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Analysis } from '../../lib/analysis.js';
import { applyEdits } from '../../lib/engine/edits.js';
import { layout } from '../../lib/engine/layout.js';
import { selectBackend } from '../../lib/engine/index.js';
import { readoutStates } from '../../lib/engine/primitives.js';
import { Model } from '../../lib/model.js';
import { Interventions, toVariant, type Intervention } from '../../lib/programs/interventions/experiment.js';
import { DynamicsKnockout, ReadoutKnockout } from '../../lib/programs/q3_neurons/experiment.js';
import { PATHS, cli, expectCode, expectSameOnEveryPath, forward, hasShared, refDataPath, refModelPath, repoRoot } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const js = selectBackend({ name: 'js', threads: 2 });
const model = randomModel(12, 7);
const text = randomText(300, 3);
const an = (m = model, data: Uint8Array = text) => new Analysis({ model: m, data, backend: 'auto' });

/** A model whose neuron `j` is constant: zero Wx and Wh rows, bias c, so h_j = tanhf(c) at every step. */
function withConstantNeuron(m: Model, j: number, c: number): Model {
  const H = m.hidden;
  const l = layout(H);
  const w = new Float32Array(m.weights);
  for (let x = 0; x < 256; x++) w[l.Wx + j * 256 + x] = 0;
  for (let i = 0; i < H; i++) w[l.Wh + j * H + i] = 0;
  w[l.bh + j] = c;
  return new Model(w, H, 'constant neuron');
}

describe('interventions equal the evaluations they stand for', () => {
  it('ablate / clamp / binarize / prune / mask / cutRecurrent / readout kinds, bit for bit', async () => {
    const a = an();
    const H = model.hidden;
    const keep = new Uint8Array(H * H).map((_, i) => i % 3);
    const cases: [Intervention[], Parameters<Analysis['meanBpc']>[0][number]][] = [
      [[{ kind: 'ablate', neurons: [3] }], { neurons: [{ neuron: 3, clamp: 0 }] }],
      [[{ kind: 'clamp', neurons: [1, 4], value: 0.25 }], { neurons: [{ neuron: 1, clamp: 0.25 }, { neuron: 4, clamp: 0.25 }] }],
      [[{ kind: 'binarize', neurons: [5] }], { neurons: [{ neuron: 5, sign: true }] }],
      [[{ kind: 'knockout', neurons: [2] }], { knockout: [2] }],
      [[{ kind: 'keepOnly', neurons: [0, 1, 2] }], { keepOnly: [0, 1, 2] }],
      [[{ kind: 'signSnap', neurons: [6] }], { signSnap: [6] }],
    ];
    const r = await new Interventions({ variants: cases.map((c) => c[0]) }).run(a);
    const ref = await a.meanBpc([{}, ...cases.map((c) => c[1])]);
    expect(r.baselineBpc).toBe(ref[0]);
    r.rows.forEach((row, i) => {
      expect(row.bpc, row.label).toBe(ref[i + 1]);
      expect(row.deltaBpc).toBe(ref[i + 1]! - ref[0]!);
    });
    expect(r.rows.map((x) => x.acts)).toEqual(['dynamics', 'dynamics', 'dynamics', 'readout', 'readout', 'readout']);
    // Weight edits: the same as a Model built from the edited weights.
    const edits: [Intervention, Parameters<typeof applyEdits>[1]][] = [
      [{ kind: 'prune', matrix: 'Wh', threshold: 0.3 }, [{ matrix: 'Wh', threshold: 0.3 }]],
      [{ kind: 'prune', matrix: 'Wx', threshold: 1 }, [{ matrix: 'Wx', threshold: 1 }]],
      [{ kind: 'mask', matrix: 'Wh', keep }, [{ matrix: 'Wh', keep }]],
      [{ kind: 'cutRecurrent', neuron: 2 }, [{ whColumn: 2 }]],
    ];
    const e = await new Interventions({ variants: edits.map(([iv]) => [iv]) }).run(a, { baselineBpc: r.baselineBpc });
    for (const [i, [, list]] of edits.entries()) {
      const copy = new Model(applyEdits(model, list).weights, model.hidden);
      const [bpc] = await an(copy).meanBpc([{}]);
      expect(e.rows[i]!.bpc).toBe(bpc);
    }
  });

  it('a readout knockout through Interventions equals ReadoutKnockout; DynamicsKnockout equals ablate', async () => {
    const a = an();
    const H = model.hidden;
    const ko = await new ReadoutKnockout().run(a);
    const dyn = await new DynamicsKnockout().run(a);
    const r = await new Interventions({
      variants: Array.from({ length: H }, (_, j) => [{ kind: 'knockout', neurons: [j] } as const]).concat(
        Array.from({ length: H }, (_, j) => [{ kind: 'ablate', neurons: [j] } as const]),
      ),
    }).run(a);
    for (let j = 0; j < H; j++) {
      expect(r.rows[j]!.deltaBpc).toBe(ko.neurons[j]!.deltaBpc);
      expect(r.rows[H + j]!.deltaBpc).toBe(dyn.neurons[j]!.deltaBpc);
    }
    expect(dyn.site).toBe('dynamics');
    expect(dyn.mode).toBe('zero');
    // Ablating a neuron inside the dynamics is not the readout knockout (it also feeds the next step).
    expect(dyn.neurons.some((n, j) => n.deltaBpc !== ko.neurons[j]!.deltaBpc)).toBe(true);
  });

  it('meanAblate sets h_j to the base run mean (double sum in t order / steps, rounded to float32)', async () => {
    const a = an();
    const H = model.hidden;
    const { states } = await forward(js, model, text.subarray(0, text.length - 1));
    const T = text.length - 1;
    const j = 4;
    let sum = 0;
    for (let t = 0; t < T; t++) sum += states[t * H + j]!;
    const mean = Math.fround(sum / T);
    const r = await new Interventions({ variants: [[{ kind: 'meanAblate', neurons: [j] }]] }).run(a);
    const [clamped] = await a.meanBpc([{ neurons: [{ neuron: j, clamp: mean }] }]);
    expect(r.rows[0]!.bpc).toBe(clamped);
    expect(r.rows[0]!.deltaBpc).not.toBe(0);
  });

  it('readMean (readout mean ablation) equals the readout of the states with column j set to the mean, on every path', async () => {
    const H = model.hidden;
    const T = text.length - 1;
    const { states } = await forward(js, model, text.subarray(0, T));
    const j = 6;
    let sum = 0;
    for (let t = 0; t < T; t++) sum += states[t * H + j]!;
    const mean = Math.fround(sum / T);
    const edited = new Float32Array(states);
    for (let t = 0; t < T; t++) edited[t * H + j] = mean;
    const ref = await readoutStates(js, { model, states: edited, targets: text.subarray(1), use: new Uint8Array(H).fill(1), method: 'ordered' });
    for (const p of PATHS.filter((x) => x.enabled)) {
      const a = new Analysis({ model, data: text, backend: { name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 2 } });
      // Mixed with other readout variants, so certified neighbours and a fixed-value variant share a tile.
      const r = await new Interventions({ variants: [[{ kind: 'knockout', neurons: [1] }], [{ kind: 'readMean', neurons: [j] }], [{ kind: 'knockout', neurons: [1, 2] }]] }).run(a);
      expect(r.rows[1]!.bpc, p.label).toBe(ref.mean[0]);
      expect(r.rows[1]!.acts).toBe('readout');
      const ko = await new ReadoutKnockout({ mode: 'mean' }).run(a);
      expect(ko.neurons[j]!.bpc, p.label).toBe(ref.mean[0]);
      expect(ko.mode).toBe('mean');
    }
  }, 60_000);

  it('meanAblate of a constant neuron changes nothing, on every path', async () => {
    const m = withConstantNeuron(model, 2, 0.7);
    for (const p of PATHS.filter((x) => x.enabled)) {
      const a = new Analysis({ model: m, data: text, backend: { name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 2 } });
      const r = await new Interventions({ variants: [[{ kind: 'meanAblate', neurons: [2] }]] }).run(a);
      expect(r.rows[0]!.deltaBpc, p.label).toBe(0);
      expect(r.rows[0]!.bpc, p.label).toBe(r.baselineBpc);
    }
  });

  it('a patch from the same text and model changes nothing (every path); every neuron everywhere from another text reads out the donor', async () => {
    const a = an();
    const H = model.hidden;
    for (const p of PATHS.filter((x) => x.enabled)) {
      const ap = new Analysis({ model, data: text, backend: { name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 2 } });
      const same = await new Interventions({
        variants: [[{ kind: 'patch', neurons: [0, 5, 7], from: {} }], [{ kind: 'patch', neurons: [1], positions: [0, 10, 298], from: { data: new Uint8Array(text), model } }]],
      }).run(ap);
      for (const row of same.rows) expect(row.bpc, p.label).toBe(same.baselineBpc);
    }
    // Donor text: every neuron at every position is overwritten, so the states are the donor's.
    const donor = randomText(400, 9);
    const all = Array.from({ length: H }, (_, j) => j);
    const r = await new Interventions({ variants: [[{ kind: 'patch', neurons: all, from: { data: donor } }]] }).run(a);
    const T = text.length - 1;
    const { states } = await forward(js, model, donor.subarray(0, T));
    const ref = await readoutStates(js, { model, states, targets: text.subarray(1), use: new Uint8Array(H).fill(1) });
    expect(r.rows[0]!.bpc).toBe(ref.mean[0]);
    expect(r.rows[0]!.bpc).not.toBe(r.baselineBpc);
  });

  it('a patch from another model of the same H changes the result; per-position bits add up to the mean', async () => {
    const a = an();
    const other = randomModel(12, 99);
    const r = await new Interventions({
      variants: [[{ kind: 'patch', neurons: [3], positions: [5, 6, 7, 100], from: { model: other } }], []],
      bits: true,
    }).run(a);
    expect(r.rows[0]!.bpc).not.toBe(r.baselineBpc);
    expect(r.rows[1]!.label).toBe('intact');
    for (const row of r.rows) {
      expect(row.bits).toHaveLength(text.length - 1);
      let s = 0;
      for (const b of row.bits!) s += b;
      expect(s / row.bits!.length).toBe(row.bpc);
    }
    // Bits before the first patched position equal the intact run's.
    expect(Array.from(r.rows[0]!.bits!.subarray(0, 5))).toEqual(Array.from(r.rows[1]!.bits!.subarray(0, 5)));
    const ranged = await new Interventions({ variants: [[]], bits: { from: 10, to: 20 } }).run(a);
    expect(ranged.bitsFrom).toBe(10);
    expect(Array.from(ranged.rows[0]!.bits!)).toEqual(Array.from(r.rows[1]!.bits!.subarray(10, 20)));
  });
});

describe('interventions: bad input is a clear BAD_OPTION', () => {
  it('malformed variants, out-of-range neurons, patches of another H or past the donor end', async () => {
    const a = an();
    expectCode(() => new Interventions({ variants: [] }), 'BAD_OPTION');
    expectCode(() => new Interventions({ variants: [[{ kind: 'frobnicate' } as unknown as Intervention]] }), 'BAD_OPTION');
    expectCode(() => new Interventions({ variants: [[{ kind: 'clamp', neurons: [1], value: NaN }]] }), 'BAD_OPTION');
    expectCode(() => new Interventions({ variants: [[{ kind: 'ablate', neurons: [] }]] }), 'BAD_OPTION');
    expectCode(() => new Interventions({ variants: [[]], bits: { from: 5, to: 5 } }), 'BAD_OPTION');
    expectCode(() => toVariant([{ kind: 'patch', neurons: [1] } as unknown as Intervention]), 'BAD_OPTION');
    await expect(new Interventions({ variants: [[{ kind: 'ablate', neurons: [12] }]] }).run(a)).rejects.toMatchObject({ code: 'BAD_OPTION', message: /out of range 0\.\.11/ });
    await expect(new Interventions({ variants: [[{ kind: 'patch', neurons: [1], from: { model: randomModel(5, 1) } }]] }).run(a)).rejects.toMatchObject({
      code: 'BAD_OPTION',
      message: /H=5.*H=12/,
    });
    await expect(new Interventions({ variants: [[{ kind: 'patch', neurons: [1], positions: [250], from: { data: randomText(200, 1) } }]] }).run(a)).rejects.toMatchObject({
      code: 'BAD_OPTION',
      message: /past the donor text's end/,
    });
    await expect(new Interventions({ variants: [[{ kind: 'patch', neurons: [1], positions: [3, 2], from: {} }]] }).run(a)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(new Interventions({ variants: [[{ kind: 'prune', matrix: 'Wh', threshold: -1 }]] }).run(a)).rejects.toMatchObject({ code: 'BAD_OPTION' });
    expectCode(() => new DynamicsKnockout({ mode: 'median' as 'zero' }), 'BAD_OPTION');
  });
});

describe('interventions: the same doubles on every path', () => {
  it(`ablate, meanAblate, binarize, patch, prune and readout kinds on ${PATHS.filter((p) => p.enabled).map((p) => p.label).join(', ')}`, async () => {
    const m = randomModel(9, 21);
    const data = randomText(180, 22);
    const donor = randomText(200, 23);
    const variants: Intervention[][] = [
      [{ kind: 'ablate', neurons: [1] }],
      [{ kind: 'meanAblate', neurons: [2, 3] }],
      [{ kind: 'binarize', neurons: [4] }, { kind: 'knockout', neurons: [0] }],
      [{ kind: 'patch', neurons: [5, 6], positions: [3, 50, 51], from: { data: donor } }],
      [{ kind: 'prune', matrix: 'Wh', threshold: 0.2 }, { kind: 'keepOnly', neurons: [1, 2, 3] }],
      [{ kind: 'clamp', neurons: [7], value: 1.5 }],
    ];
    await expectSameOnEveryPath(
      (backend) => new Interventions({ variants, bits: { from: 40, to: 60 } }).run(new Analysis({ model: m, data, backend })),
      (r) => r.rows.map((x) => `${x.label} ${x.bpc}`).join('\n'),
    );
  }, 60_000);
});

describe.skipIf(!hasShared)('satrnn knockout --in dynamics on the reference model', () => {
  it('neuron 8: readout 0.1140 bpc, dynamics 5.2210 bpc (the issue numbers); mean mode differs from zero', () => {
    const readout = cli('knockout', '-m', refModelPath, '-d', refDataPath, '--json');
    const dynamics = cli('knockout', '-m', refModelPath, '-d', refDataPath, '--in', 'dynamics', '--json');
    const mean = cli('knockout', '-m', refModelPath, '-d', refDataPath, '--in', 'dynamics', '--mode', 'mean', '--json');
    for (const r of [readout, dynamics, mean]) expect(r.status, r.stderr).toBe(0);
    const n8 = (s: string) => (JSON.parse(s) as { models: { site: string; mode: string; neurons: { neuron: number; bpc: number }[] }[] }).models[0]!;
    expect(n8(readout.stdout).neurons.find((n) => n.neuron === 8)!.bpc.toFixed(4)).toBe('0.1140');
    expect(n8(dynamics.stdout).neurons.find((n) => n.neuron === 8)!.bpc.toFixed(4)).toBe('5.2210');
    expect(n8(dynamics.stdout).site).toBe('dynamics');
    expect(n8(mean.stdout).mode).toBe('mean');
    expect(n8(mean.stdout).neurons.find((n) => n.neuron === 8)!.bpc).not.toBe(n8(dynamics.stdout).neurons.find((n) => n.neuron === 8)!.bpc);
    const bad = cli('knockout', '--in', 'wy');
    expect(bad.status).toBe(2);
    // --mode mean reads the text twice: a stream on stdin is saved first, as for several models.
    const piped = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'satrnn.js'), 'knockout', '-m', refModelPath, '-d', '-', '--in', 'dynamics', '--mode', 'mean', '--json'], {
      input: readFileSync(refDataPath),
      encoding: 'utf8',
    });
    expect(piped.status, piped.stderr).toBe(0);
    expect(n8(piped.stdout).neurons).toEqual(n8(mean.stdout).neurons);
  }, 120_000);
});
