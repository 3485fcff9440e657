// q3_neurons: golden on every path; `satrnn reproduce q3_neurons` (arguments, the model it
// accepts); its modern command `satrnn knockout`; the same results on every path for other
// models and texts; the q3 experiments' options and the defects fixed in them.
import { describe, expect, it } from 'vitest';
import { reproduce } from '../../lib/programs/index.js';
import { PATHS, cli, expectCleanFailure, expectSameOnEveryPath, golden, hasShared, refDataPath, refModelPath, tmpFiles, expectCode } from '../helpers.js';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Analysis } from '../../lib/analysis.js';
import { Model, paramCount } from '../../lib/model.js';
import { CumulativeKnockout, KeepTopK, NeuronSuite, ReadoutKnockout, SignOnly, readoutDecode } from '../../lib/programs/q3_neurons/experiment.js';
import { formatNeuronSuiteText } from '../../lib/programs/q3_neurons/format.js';
import { randomModel, randomText } from '../models.js';
import { distinctSorted, exchangeSort, range, sortedIfDistinct } from '../../lib/util/exchangeSort.js';

describe.skipIf(!hasShared)('golden: q3_neurons', () => {
  const expected = hasShared ? golden('q3_neurons.txt') : '';
  for (const p of PATHS) {
    it.skipIf(!p.enabled)(`matches byte for byte on ${p.label}`, async () => {
      const text = await reproduce('q3_neurons', [refDataPath, refModelPath], {
        backend: { name: p.backend, ...(p.isa ? { isa: p.isa } : {}) },
      });
      expect(text.split('\n')).toEqual(expected.split('\n'));
      expect(text).toBe(expected);
    }, 300_000);
  }
});

const { dir, file } = tmpFiles('satrnn-ko-');
const models = [randomModel(5, 1), randomModel(9, 2)];
const folder = path.join(dir, 'models');
mkdirSync(folder);
models.forEach((m, i) => writeFileSync(path.join(folder, `m${i}.bin`), m.toBytes()));
const text = randomText(300, 3);
const dataFile = path.join(dir, 'text.bin');
writeFileSync(dataFile, text);

// Small files for the argument checks: a constant H = 128 model, an H = 3 one, a short text.
const floats = (n: number, v = 0.01): Uint8Array => new Uint8Array(new Float32Array(n).fill(v).buffer);
const goodModel = file('good.bin', floats(paramCount(128)));
const smallModel = file('h3.bin', floats(paramCount(3)));
const helloText = file('hello.txt', 'hello world, hello satrnn');

describe('satrnn reproduce q3_neurons: arguments and the model it accepts', () => {
  it('missing arguments', () => expectCleanFailure(cli('reproduce', 'q3_neurons', helloText), 2, /Usage: satrnn reproduce q3_neurons <data> <model>/));
  it('too many arguments', () => expectCleanFailure(cli('reproduce', 'q3_neurons', helloText, goodModel, 'extra'), 2, /takes 2 arguments/));
  it('model of another H in reproduce (H fixed at 128)', () => expectCleanFailure(cli('reproduce', 'q3_neurons', helloText, smallModel), 2, /needs 329216/));
  it.skipIf(!hasShared)('trailing model bytes: one warning line, output as the original', () => {
    const ref = new Uint8Array(readFileSync(refModelPath));
    const padded = file('padded.bin', new Uint8Array([...ref, 1, 2, 3, 4, 5]));
    const r = cli('reproduce', 'q3_neurons', refDataPath, padded);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^satrnn: warning: .*ignoring 5 bytes after the 329216-byte model\n$/);
    expect(r.stdout).toBe(golden('q3_neurons.txt'));
  });
});

describe('satrnn knockout', () => {
  it('JSON: schema, provenance, and the same numbers as the API, for every model of a folder', async () => {
    const r = cli('knockout', '--model', folder, '--data', dataFile, '--json');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema).toBe('satrnn.knockout/2');
    expect(doc.provenance.satrnn).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.provenance.data.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(doc.models).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      const m = models[i]!;
      const want = await new ReadoutKnockout().run(new Analysis({ model: m, data: text, backend: 'js' }));
      const got = doc.models[i];
      expect(got.hidden).toBe(m.hidden);
      expect(got.sha256).toBe(createHash('sha256').update(m.toBytes()).digest('hex'));
      expect(got.baselineBpc).toBe(want.baselineBpc);
      expect(got.predictions).toBe(text.length - 1);
      expect(got.ranking).toEqual(want.ranking);
      // JSON lists neurons in rank order, each entry the API's NeuronKnockout (same keys, same numbers).
      expect(got.neurons).toEqual(want.ranking.map((j) => want.neurons[j]));
    }
  });
  it('CSV and --top; table to a file with -o', () => {
    const csv = cli('knockout', '-m', path.join(folder, 'm1.bin'), '-d', dataFile, '--csv', '--top', '4');
    expect(csv.status).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('model_file,rank,neuron,baseline_bpc,bpc,delta_bpc,wy_norm,mean_abs_h,site,mode');
    expect(lines[1]!.split(',').slice(1, 3)).toEqual(['1', expect.stringMatching(/^\d$/)]);
    expect(lines).toHaveLength(5);
    const out = path.join(dir, 'table.txt');
    const t = cli('knockout', '-m', path.join(folder, 'm0.bin'), '-d', dataFile, '-o', out);
    expect(t.status).toBe(0);
    expect(t.stdout).toBe('');
    const table = readFileSync(out, 'utf8');
    expect(table).toMatch(/hidden 5, predictions \d+, baseline_bpc \d+\.\d{4}/);
    expect(table.trim().split('\n')).toHaveLength(2 + 5);
  });
  it('bad --top', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', helloText, '--top', 'x'), 2, /expected an integer/));
  it('--json and --csv together', () => expectCleanFailure(cli('knockout', '--model', goodModel, '--data', helloText, '--json', '--csv'), 2, /one of --json and --csv/));
});

describe('q3_neurons on other models and texts: every path gives the same result', () => {
  for (const [H, n] of [
    [1, 40],
    [5, 300],
    [200, 60],
  ] as const)
    it(`H=${H}, n=${n}`, async () => {
      const model = randomModel(H, 500 + H);
      const data = randomText(n, 9 + H);
      await expectSameOnEveryPath(
        (backend) => new NeuronSuite({ top: Math.min(10, H) }).run(new Analysis({ model, data, backend })),
        formatNeuronSuiteText,
      );
    }, 120_000);
});

describe('q3 experiments: options and defects', () => {
  const model = new Model(new Float32Array(paramCount(4)), 4);
  const an = new Analysis({ model, data: new Uint8Array([1, 2, 3]), backend: 'js' });
  it('bad options: KeepTopK rankings and counts, CumulativeKnockout without options, readoutDecode neuron indices', async () => {
    expect(() => new KeepTopK({ ranking: [0, 0, 1, 2] })).toThrow(/distinct neuron/);
    expect(() => new KeepTopK({ ranking: [0, 1, 2, 3], counts: [5] })).toThrow(/outside/);
    await expect(new KeepTopK({ ranking: [0, 1, 2, 3, 4, 5] }).run(an)).rejects.toThrow(/4 is not a distinct neuron index in 0..3/);
    expectCode(() => new CumulativeKnockout(undefined as never), 'BAD_OPTION');
    expectCode(() => readoutDecode(model, 9), 'BAD_OPTION');
    expect(() => readoutDecode(model, 1.5)).toThrow(/neuron index 1.5 is not an integer/);
  });
  it('NeuronSuite on a model smaller than the original top-10 decode decodes every neuron', async () => {
    const small = await new NeuronSuite().run(an);
    expect(small.decode.map((d) => d.neuron).sort()).toEqual([0, 1, 2, 3]);
  });
  it('SignOnly without a baseline evaluates its own (no NaN deltas)', async () => {
    const sign = await new SignOnly().run(an);
    expect(sign.neurons).toHaveLength(4);
    for (const n of sign.neurons) expect(Number.isNaN(n.deltaBpc)).toBe(false);
  });
});

describe('exchange sorts: the originals\' tie order', () => {
  // The spec's sort written out literally (a comparison callback on the values themselves).
  function literal<T>(arr: T[], better: (b: T, a: T) => boolean, limit = arr.length - 1): T[] {
    for (let a = 0; a < limit; a++)
      for (let b = a + 1; b < arr.length; b++)
        if (better(arr[b]!, arr[a]!)) [arr[a], arr[b]] = [arr[b]!, arr[a]!];
    return arr;
  }
  const rand = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

  it('keyed index sort = the literal sort, with many ties, both directions, partial and full', () => {
    const r = rand(5);
    for (let trial = 0; trial < 50; trial++) {
      const n = 2 + Math.floor(r() * 300);
      const key = Array.from({ length: n }, () => Math.floor(r() * 7) - 3); // few distinct values: ties everywhere
      for (const limit of [1, 5, n - 1]) {
        expect(exchangeSort(range(n), key, 'greater', limit)).toEqual(literal(range(n), (b, a) => key[b]! > key[a]!, limit));
        expect(exchangeSort(range(n), key, 'less', limit)).toEqual(literal(range(n), (b, a) => key[b]! < key[a]!, limit));
      }
    }
  });

  it('keyed index sort of distinct keys (the built-in sort path) = the literal sort; a -0/+0 pair or a NaN takes the replay', () => {
    const r = rand(11);
    for (let trial = 0; trial < 40; trial++) {
      const n = 2 + Math.floor(r() * 300);
      const key = Array.from({ length: n }, () => (r() - 0.5) * 2 ** Math.floor(r() * 40 - 20));
      if (trial % 4 === 1) key[Math.floor(r() * n)] = -0; // one zero of each sign: distinct values
      if (trial % 4 === 2) [key[0], key[n - 1]] = [-0, 0]; // equal as numbers: a tie
      if (trial % 4 === 3) key[Math.floor(r() * n)] = NaN;
      const start = range(n);
      for (const limit of [1, 5, n - 1, n + 3]) {
        expect(exchangeSort([...start], key, 'greater', limit)).toEqual(literal([...start], (b, a) => key[b]! > key[a]!, limit));
        expect(exchangeSort([...start], key, 'less', limit)).toEqual(literal([...start], (b, a) => key[b]! < key[a]!, limit));
      }
      // A permuted start (the decode's second sort gets the first one's list).
      const perm = literal(range(n), (b, a) => key[b]! > key[a]!, 3);
      expect(exchangeSort([...perm], key, 'less')).toEqual(literal([...perm], (b, a) => key[b]! < key[a]!));
    }
    expect(sortedIfDistinct([0, 1, 2], [1, -0, 0], 'greater')).toBeUndefined();
    expect(sortedIfDistinct([0, 1, 2], [1, NaN, 0], 'less')).toBeUndefined();
    expect(distinctSorted(new Float64Array([2, -0, 1]))).toEqual(new Float64Array([-0, 1, 2]));
    expect(distinctSorted(new Float64Array([2, -0, 0]))).toBeUndefined();
    expect(sortedIfDistinct([2, 0, 1], [0.5, -1, 3], 'less')).toEqual([1, 0, 2]);
  });

  it('readoutDecode on a random (distinct) Wy = the spec replayed literally', () => {
    const H = 16;
    const model = randomModel(H, 23);
    for (let j = 0; j < H; j++)
      for (const bytes of [1, 5, 256]) {
        const list = Array.from({ length: 256 }, (_, o) => ({ byte: o, weight: model.Wy[o * H + j]! }));
        literal(list, (b, a) => b.weight > a.weight, bytes);
        const promotes = list.slice(0, bytes).map((x) => ({ ...x }));
        literal(list, (b, a) => b.weight < a.weight);
        expect(readoutDecode(model, j, { bytes })).toEqual({ neuron: j, promotes, demotes: list.slice(0, bytes) });
      }
  });

  it('readoutDecode on a Wy of integers (ties everywhere) = the spec replayed literally: partial sort, then the full re-sort of the same list', () => {
    const H = 16;
    const m = randomModel(H, 21);
    const w = new Float32Array(m.weights);
    const wyAt = paramCount(H) - 256 - 256 * H;
    const r = rand(9);
    for (let i = 0; i < 256 * H; i++) w[wyAt + i] = Math.floor(r() * 5) - 2;
    const model = new Model(w, H);
    for (let j = 0; j < H; j++) {
      const list = Array.from({ length: 256 }, (_, o) => ({ byte: o, weight: model.Wy[o * H + j]! }));
      literal(list, (b, a) => b.weight > a.weight, 5);
      const promotes = list.slice(0, 5).map((x) => ({ ...x }));
      literal(list, (b, a) => b.weight < a.weight); // the whole re-sort, as the original does
      expect(readoutDecode(model, j)).toEqual({ neuron: j, promotes, demotes: list.slice(0, 5) });
    }
  });
});
