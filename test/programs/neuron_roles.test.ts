// neuron_roles (spec/neuron_roles.md, no golden file): hand-made models whose roles are
// known, the spec's exact checks (Wh = 0, a zero Wy column, the readout knockout's deltas
// bit for bit), every path, the options, and `satrnn roles`.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Analysis } from '../../lib/analysis.js';
import { layout } from '../../lib/engine/layout.js';
import { Model, loadModel, paramCount } from '../../lib/model.js';
import { NeuronRoles, roleOf, type NeuronRolesResult } from '../../lib/programs/neuron_roles/experiment.js';
import { formatRolesText } from '../../lib/programs/neuron_roles/format.js';
import { DynamicsKnockout, ReadoutKnockout } from '../../lib/programs/q3_neurons/experiment.js';
import { addon, cli, expectCleanFailure, expectCode, expectSameOnEveryPath, hasShared, refDataPath, refModelPath, repoRoot, skipExhaustive, tmpFiles } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

/** An analysis that keeps the random models' subnormal-weight warnings out of the test log. */
const analysis = (input: ConstructorParameters<typeof Analysis>[0]): Analysis => new Analysis({ onWarning: () => {}, ...input });

const A = 97; // 'a'
const B = 98; // 'b'
/** "abab…": the next byte is the byte before the current one. */
const abab = new Uint8Array(200).map((_, t) => (t % 2 === 0 ? A : B));

/**
 * H = 7, every other weight 0:
 * - n0 reads the input (Wx ±5: |h| = tanh 5 >= 0.999, always saturated) and sends it to n1
 *   through Wh; no readout column: a router.
 * - n1 holds the previous byte (Wh[1][0] = 3), which is the next one in "abab…", and reads
 *   it out (Wy ±4); sends nothing: a readout neuron.
 * - n2 reads the input, reads it out (the next byte is the other letter: Wy ±2) and sends
 *   it to n3 (Wh[3][2] = 3), which reads it out too (Wy ±2): n2 is a hub, n3 a readout neuron.
 * - n4 reads the input and reads it out the wrong way round (it predicts the current byte
 *   again): removing it helps, noise.
 * - n5, n6: all zero (h = 0 throughout): inert, every delta exactly 0 (a tie).
 */
function handMade(): Model {
  const H = 7;
  const l = layout(H);
  const w = new Float32Array(paramCount(H));
  const wx = (i: number, x: number, v: number) => (w[l.Wx + i * 256 + x] = v);
  const wh = (i: number, j: number, v: number) => (w[l.Wh + i * H + j] = v);
  const wy = (o: number, j: number, v: number) => (w[l.Wy + o * H + j] = v);
  for (const [i, v] of [
    [0, 5],
    [2, 3],
    [4, 3],
  ] as const) {
    wx(i, A, v);
    wx(i, B, -v);
  }
  wh(1, 0, 3);
  wh(3, 2, 3);
  // h > 0 after 'a' (or after the previous 'a' for n1, n3): the byte each neuron predicts.
  wy(A, 1, 4);
  wy(B, 1, -4);
  wy(B, 2, 2);
  wy(A, 2, -2);
  wy(A, 3, 2);
  wy(B, 3, -2);
  wy(A, 4, 1);
  wy(B, 4, -1);
  return new Model(w, H, 'hand-made roles model');
}

/** The model with some of its weights replaced. */
function withWeights(m: Model, change: (w: Float32Array) => void): Model {
  const w = new Float32Array(m.weights);
  change(w);
  return new Model(w, m.hidden, `${m.source} (edited)`);
}

/** Neurons by deltaFull descending, ties lower index first: the spec's order, checked pair by pair. */
function expectRankingOrder(r: NeuronRolesResult): void {
  expect([...r.ranking].sort((a, b) => a - b)).toEqual(r.neurons.map((n) => n.neuron));
  for (let k = 1; k < r.ranking.length; k++) {
    const [a, b] = [r.neurons[r.ranking[k - 1]!]!, r.neurons[r.ranking[k]!]!];
    expect(a.deltaFull > b.deltaFull || (a.deltaFull === b.deltaFull && a.neuron < b.neuron), `${a.neuron} before ${b.neuron}`).toBe(true);
  }
}

describe('NeuronRoles on a hand-made model', () => {
  it('router, readout, hub, noise and inert where the weights put them; exact zeros where nothing changes', async () => {
    const r = await new NeuronRoles().run(analysis({ model: handMade(), data: abab, backend: 'js' }));
    expect(r.neurons.map((n) => n.role)).toEqual(['router', 'readout', 'hub', 'readout', 'noise', 'inert', 'inert']);
    // Read as ±1, n1 and n3 (|h| = tanh(3·tanh 3) ≈ 0.995 after the first step) predict differently; n0's zero column and n5, n6 (h = 0) cannot.
    expect(r.neurons.map((n) => n.needsMantissa)).toEqual([false, true, false, true, false, false, false]);
    expect(r.counts).toEqual({ hub: 1, readout: 2, router: 1, noise: 1, inert: 2 });
    expect(r.tau).toBe(0.005);
    expect(r.hidden).toBe(7);
    expect(r.predictions).toBe(abab.length - 1);
    const [n0, n1, n2, , n4, n5, n6] = r.neurons;
    // A zero Wy column: its readout knockout and its sign snap change nothing.
    expect(n0!.deltaReadout).toBe(0);
    expect(n0!.needsMantissa).toBe(false);
    // A zero Wh column: the recurrent knockout is the intact model.
    expect(Object.is(n1!.deltaRecurrent, 0)).toBe(true);
    expect(n1!.deltaReadout).toBeGreaterThan(1);
    expect(n0!.deltaRecurrent).toBeGreaterThan(1);
    expect(n2!.deltaReadout).toBeGreaterThan(0.005);
    expect(n2!.deltaRecurrent).toBeGreaterThan(0.005);
    expect(n4!.deltaReadout).toBeLessThan(-0.005);
    // Clamping n2 removes its readout and n3's input at once: more than the two knockouts' sum.
    expect(n2!.interaction).toBeGreaterThan(0.005);
    for (const n of [n5!, n6!]) for (const d of [n.deltaReadout, n.deltaRecurrent, n.deltaFull, n.interaction]) expect(Object.is(d, 0)).toBe(true);
    // n0 is always at tanh 5 (saturated), n5 always 0.
    expect(n0!.saturation).toBe(1);
    expect(n5!.saturation).toBe(0);
    for (const n of r.neurons) expect(n.interaction).toBe(n.deltaFull - (n.deltaReadout + n.deltaRecurrent));
    expectRankingOrder(r);
    // The tie at deltaFull = 0: n5 before n6.
    expect(r.ranking.indexOf(5)).toBeLessThan(r.ranking.indexOf(6));
  });

  it('tau moves the role boundaries: a large tau leaves only inert neurons; the result is the same with a given baseline', async () => {
    const an = analysis({ model: handMade(), data: abab, backend: 'js' });
    const base = await new NeuronRoles().run(an);
    const big = await new NeuronRoles({ tau: 1e6 }).run(an, { baselineBpc: base.baselineBpc });
    expect(big.counts).toEqual({ hub: 0, readout: 0, router: 0, noise: 0, inert: 7 });
    expect(big.neurons.map((n) => n.deltaFull)).toEqual(base.neurons.map((n) => n.deltaFull));
    expect(big.neurons.every((n) => !n.needsMantissa)).toBe(true);
  });

  it('roleOf follows the spec at the boundaries', () => {
    expect(roleOf(0.005, 0.005, 0.005)).toBe('hub');
    expect(roleOf(0.005, 0.0049, 0.005)).toBe('readout');
    expect(roleOf(-1, 0.005, 0.005)).toBe('router');
    expect(roleOf(-0.005, 0, 0.005)).toBe('noise');
    expect(roleOf(0, -0.005, 0.005)).toBe('noise');
    expect(roleOf(-0.0049, 0.0049, 0.005)).toBe('inert');
    expect(roleOf(0, 0, 0)).toBe('hub'); // tau 0: "r >= tau" holds for no change
  });
});

describe('NeuronRoles: the spec checks on random models', () => {
  const text = randomText(300, 41);
  it('Wh = 0: every deltaRecurrent is exactly 0, so no routers and no hubs', async () => {
    const m = withWeights(randomModel(6, 42), (w) => w.fill(0, layout(6).Wh, layout(6).bh));
    const r = await new NeuronRoles().run(analysis({ model: m, data: text, backend: 'js' }));
    for (const n of r.neurons) expect(Object.is(n.deltaRecurrent, 0), `neuron ${n.neuron}`).toBe(true);
    expect(r.counts.router + r.counts.hub).toBe(0);
    // The other knockouts still see something on a random model.
    expect(r.neurons.some((n) => n.deltaReadout !== 0)).toBe(true);
  });
  it('a zero Wy column: deltaReadout of that neuron is exactly 0 (and its sign snap needs no mantissa)', async () => {
    const H = 6;
    const j = 3;
    const m = withWeights(randomModel(H, 43), (w) => {
      for (let o = 0; o < 256; o++) w[layout(H).Wy + o * H + j] = 0;
    });
    const r = await new NeuronRoles().run(analysis({ model: m, data: text, backend: 'js' }));
    expect(Object.is(r.neurons[j]!.deltaReadout, 0)).toBe(true);
    expect(r.neurons[j]!.needsMantissa).toBe(false);
    expect(r.neurons.filter((n) => n.deltaReadout === 0).map((n) => n.neuron)).toEqual([j]);
    expectRankingOrder(r);
  });
  it('deltaReadout and deltaFull are the readout and dynamics knockouts\' deltaBpc, bit for bit, with the same baseline', async () => {
    const an = analysis({ model: randomModel(9, 44), data: text, backend: 'js' });
    const roles = await new NeuronRoles().run(an);
    const ko = await new ReadoutKnockout().run(analysis({ model: an.model, data: text, backend: 'js' }));
    const dyn = await new DynamicsKnockout().run(analysis({ model: an.model, data: text, backend: 'js' }));
    expect(roles.baselineBpc).toBe(ko.baselineBpc);
    expect(roles.neurons.map((n) => n.deltaReadout)).toEqual(ko.neurons.map((n) => n.deltaBpc));
    expect(roles.neurons.map((n) => n.deltaFull)).toEqual(dyn.neurons.map((n) => n.deltaBpc));
    // With the baseline given, the same doubles.
    const given = await new NeuronRoles().run(an, { baselineBpc: roles.baselineBpc });
    expect(given).toEqual(roles);
  });
});

describe.skipIf(!hasShared || !addon)('NeuronRoles on the reference model and text (native)', () => {
  it('deltaReadout equals ReadoutKnockout deltaBpc bit for bit; saturation is the trajectory statistics', async () => {
    const model = loadModel(refModelPath);
    const data = new Uint8Array(readFileSync(refDataPath));
    const roles = await new NeuronRoles().run(analysis({ model, data, backend: 'native' }));
    const an = analysis({ model, data, backend: 'native' });
    const ko = await new ReadoutKnockout().run(an);
    expect(roles.baselineBpc).toBe(ko.baselineBpc);
    roles.neurons.forEach((n, j) => expect(Object.is(n.deltaReadout, ko.neurons[j]!.deltaBpc), `neuron ${j}`).toBe(true));
    const stats = await an.trajectoryStats();
    expect(roles.predictions).toBe(data.length - 1);
    roles.neurons.forEach((n, j) => expect(n.saturation).toBe(stats.saturated[j]! / (data.length - 1)));
    expect(Object.values(roles.counts).reduce((a, b) => a + b)).toBe(128);
    expectRankingOrder(roles);
  }, 300_000);
  it(`H = 128 on every path: the reference model on the first ${skipExhaustive ? 48 : 128} bytes`, async () => {
    const model = loadModel(refModelPath);
    // 48 bytes in npm test (the H = 128 widths are what matter here); 128 in test:full.
    const data = new Uint8Array(readFileSync(refDataPath)).subarray(0, skipExhaustive ? 48 : 128);
    await expectSameOnEveryPath(
      (backend) => new NeuronRoles().run(analysis({ model, data, backend })),
      (r) => formatRolesText({ modelFile: 'm', sha256: '', result: r }, 30),
    );
  }, 300_000);
});

describe('NeuronRoles: every path gives the same doubles', () => {
  for (const [H, n, seed] of [
    [1, 30, 1],
    [7, 200, 2],
    [24, 120, 3],
  ] as const)
    it(`H=${H}, n=${n}`, async () => {
      const model = randomModel(H, 700 + seed);
      const data = randomText(n, 800 + seed);
      await expectSameOnEveryPath(
        (backend) => new NeuronRoles({ top: 5 }).run(analysis({ model, data, backend })),
        (r) => formatRolesText({ modelFile: 'm', sha256: '', result: r }, 5),
      );
    }, 120_000);
  it('the hand-made model too (exact zeros, saturated and silent neurons)', async () => {
    const model = handMade();
    await expectSameOnEveryPath(
      (backend) => new NeuronRoles().run(analysis({ model, data: abab, backend })),
      (r) => formatRolesText({ modelFile: 'm', sha256: '', result: r }, 7),
    );
  }, 120_000);
});

describe('NeuronRoles: options, progress and cancellation', () => {
  const an = analysis({ model: randomModel(3, 5), data: randomText(50, 6), backend: 'js' });
  it('bad options are BAD_OPTION errors naming the option', () => {
    for (const tau of [-0.001, Number.NaN, Infinity, '0.1']) {
      expectCode(() => new NeuronRoles({ tau: tau as number }), 'BAD_OPTION');
      expect(() => new NeuronRoles({ tau: tau as number })).toThrow(/^tau must be a finite number of bpc >= 0/);
    }
    for (const top of [0, -1, 1.5, '3', Infinity]) {
      expectCode(() => new NeuronRoles({ top: top as number }), 'BAD_OPTION');
      expect(() => new NeuronRoles({ top: top as number })).toThrow(/^top must be an integer >= 1/);
    }
    expectCode(() => new NeuronRoles(null as never), 'BAD_OPTION');
    expect(new NeuronRoles({ tau: 0, top: 1 })).toMatchObject({ tau: 0, top: 1 });
    expect(new NeuronRoles()).toMatchObject({ tau: 0.005, top: 30 });
  });
  it('bad run options', async () => {
    await expect(new NeuronRoles().run(an, { baselineBpc: -1 })).rejects.toThrow(/baselineBpc must be a finite number >= 0/);
    await expect(new NeuronRoles().run(an, { onProgress: 3 as never })).rejects.toThrow(/onProgress must be a function/);
  });
  it('reports progress up to the whole batch, and an aborted signal rejects with ABORTED', async () => {
    const seen: [number, number][] = [];
    await new NeuronRoles().run(an, { onProgress: (d, t) => seen.push([d, t]) });
    expect(seen.length).toBeGreaterThan(0);
    const [d, t] = seen[seen.length - 1]!;
    expect(d).toBe(t);
    const ac = new AbortController();
    ac.abort();
    await expect(new NeuronRoles().run(an, { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('satrnn roles', () => {
  const { dir, file } = tmpFiles('satrnn-roles-');
  const model = handMade();
  const modelFile = file('hand.bin', model.toBytes());
  const dataFile = file('abab.txt', abab);
  const second = file('r5.bin', randomModel(5, 9).toBytes());

  it('text: header with the baseline, the role counts, the top neurons by delta_full, every value signed to 4 decimals', async () => {
    const want = await new NeuronRoles().run(analysis({ model, data: abab, backend: 'js' }));
    const r = cli('roles', '-m', modelFile, '-d', dataFile, '--backend', 'js');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`model_file ${modelFile}: hidden 7, predictions 199, baseline_bpc ${want.baselineBpc.toFixed(4)}, tau 0.0050`);
    expect(lines[1]).toBe('roles: hub 1, readout 2, router 1, noise 1, inert 2');
    expect(lines[2]).toBe('neurons by delta_full, largest first (7 of 7):');
    expect(lines[3]).toMatch(/^ +neuron +delta_readout +delta_recurrent +delta_full +interaction +role +saturation +needs_mantissa$/);
    const rows = lines.slice(4).map((l) => l.trim().split(/ +/));
    expect(rows.map((c) => Number(c[0]))).toEqual(want.ranking);
    const signed = /^[+-]\d+\.\d{4}$/;
    for (const c of rows) expect(c.slice(1, 5)).toEqual([expect.stringMatching(signed), expect.stringMatching(signed), expect.stringMatching(signed), expect.stringMatching(signed)]);
    expect(rows.find((c) => c[0] === '0')).toEqual(['0', '+0.0000', expect.stringMatching(/^\+[1-9]/), expect.stringMatching(/^\+[1-9]/), expect.any(String), 'router', '1.0000', 'no']);
    const top = cli('roles', '-m', modelFile, '-d', dataFile, '--top', '3');
    expect(top.status, top.stderr).toBe(0);
    expect(top.stdout.trimEnd().split('\n').slice(2)).toEqual(['neurons by delta_full, largest first (3 of 7):', lines[3], ...lines.slice(4, 7)]);
  });

  it('--json: schema, provenance, and the API numbers for every model, neurons in ranking order', async () => {
    const r = cli('roles', '-m', modelFile, '-m', second, '-d', dataFile, '--json', '--tau', '0.01');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema).toBe('satrnn.roles/1');
    expect(doc.provenance).toMatchObject({
      satrnn: expect.stringMatching(/^\d+\.\d+\.\d+/),
      backend: expect.stringMatching(/^(native|js)$/),
      isa: expect.any(String),
      data: { file: dataFile, bytes: abab.length, sha256: createHash('sha256').update(abab).digest('hex') },
      options: { tau: 0.01, top: 30 },
    });
    expect(doc.models).toHaveLength(2);
    for (const [i, m] of [model, loadModel(second)].entries()) {
      const want = await new NeuronRoles({ tau: 0.01 }).run(analysis({ model: m, data: abab, backend: 'js' }));
      const got = doc.models[i];
      expect(got.modelFile).toBe([modelFile, second][i]);
      expect(got.sha256).toBe(createHash('sha256').update(m.toBytes()).digest('hex'));
      expect(got).toMatchObject({ hidden: m.hidden, predictions: 199, baselineBpc: want.baselineBpc, tau: 0.01, counts: want.counts, ranking: want.ranking });
      expect(got.neurons).toEqual(want.ranking.map((j) => want.neurons[j]));
    }
  });

  it('--csv: the snake_case header and one row per neuron, in ranking order; -o writes the file', () => {
    const out = path.join(dir, 'roles.csv');
    const r = cli('roles', '-m', modelFile, '-d', dataFile, '--csv', '-o', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('model_file,neuron,baseline_bpc,tau,delta_readout,delta_recurrent,delta_full,interaction,role,saturation,needs_mantissa');
    expect(lines).toHaveLength(1 + 7);
    const row0 = lines.slice(1).find((l) => l.split(',')[1] === '0')!.split(',');
    expect(row0[0]).toBe(modelFile);
    expect([row0[4], row0[8], row0[9], row0[10]]).toEqual(['0', 'router', '1', 'false']);
  });

  it('bad --tau, --top, and --json with --csv exit 2 with one line on stderr', () => {
    for (const tau of ['-0.1', 'abc', 'Infinity', '0x10', ''])
      expectCleanFailure(cli('roles', '-m', modelFile, '-d', dataFile, '--tau', tau), 2, /--tau.*finite number of bpc >= 0/);
    expectCleanFailure(cli('roles', '-m', modelFile, '-d', dataFile, '--top', '0'), 2, /expected an integer/);
    expectCleanFailure(cli('roles', '-m', modelFile, '-d', dataFile, '--json', '--csv'), 2, /one of --json and --csv/);
    for (const tau of ['-0.1', 'abc']) expect(cli('roles', '-m', modelFile, '-d', dataFile, '--tau', tau).stderr.trim().split('\n')).toHaveLength(1);
  });

  it('Ctrl-C stops a long run: exit 130, "interrupted" on stderr, no output and no -o file', async () => {
    const big = file('big.bin', randomModel(64, 11).toBytes());
    const text = file('big.txt', randomText(20000, 12));
    const out = path.join(dir, 'never.json');
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'satrnn.js'), 'roles', '-m', big, '-d', text, '--backend', 'js', '--threads', '1', '--json', '-o', out]);
    const got = { status: null as number | null, stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (got.stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (got.stderr += d));
    setTimeout(() => child.kill('SIGINT'), 1500); // the whole run takes minutes
    [got.status] = (await once(child, 'close')) as [number | null];
    expectCleanFailure(got, 130, /^satrnn: interrupted/m);
    expect(got.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
