// Hostile and careless use of the API: every mistake is a SatrnnError with a message (never
// a TypeError, RangeError or an uncaught exception), NaN weights written after loading are
// caught on every call, degenerate inputs warn, and a fast-check fuzz of the option objects.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Analysis,
  CumulativeKnockout,
  KeepTopK,
  Model,
  NeuronSuite,
  PruneStudy,
  ReadoutKnockout,
  SatrnnError,
  SignOnly,
  layout,
  paramCount,
  parseModel,
  readoutDecode,
  selectBackend,
  sprintf,
  train,
} from '../../lib/index.js';
import { PATHS } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const model = randomModel(5, 41);
const data = randomText(120, 3);
const backends = PATHS.filter((p) => p.enabled && (p.label === 'native-avx2' || p.label === 'js' || (p.label === 'native-scalar' && !PATHS[0].enabled)));

/** Runs f and returns the SatrnnError it throws or rejects with; fails on success or any other error. */
async function satrnnError(f: () => unknown): Promise<SatrnnError> {
  let err: unknown;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a SatrnnError').toBeInstanceOf(SatrnnError);
  return err as SatrnnError;
}

describe('wrong kinds of input are SatrnnErrors', () => {
  for (const p of backends) {
    const backend = { name: p.backend, ...(p.isa ? { isa: p.isa } : {}) } as const;
    const an = (): Analysis => new Analysis({ model, data, backend });
    it(`${p.label}: data, model, variants`, async () => {
      for (const bad of ['', 7, null, [1, 2, 3], { bytes: data }])
        expect((await satrnnError(() => new Analysis({ model, data: bad as never, backend }))).code).toBe('BAD_OPTION');
      for (const bad of [null, {}, { hidden: 5, weights: new Float32Array(3) }, model.weights])
        expect((await satrnnError(() => new Analysis({ model: bad as never, data, backend }))).message).toMatch(/model must be a Model/);
      expect((await satrnnError(() => new Analysis(null as never))).code).toBe('BAD_OPTION');
      expect((await satrnnError(() => new Model([1, 2] as never, 1))).message).toMatch(/Float32Array/);
      for (const bad of [null, undefined, 5, { knockout: [1] }])
        expect((await satrnnError(() => an().meanBpc(bad as never))).message).toMatch(/array of variants/);
      expect((await satrnnError(() => an().meanBpc([null as never]))).message).toMatch(/variant 0 must be an object/);
      expect((await satrnnError(() => an().meanBpc([{ knockout: 5 as never }]))).message).toMatch(/knockout must be an array/);
      expect((await satrnnError(() => an().meanBpc([{ knockOut: [1] } as never]))).message).toMatch(/unknown field 'knockOut'/);
      expect((await satrnnError(() => an().meanBpc([{ neurons: [5 as never] }]))).message).toMatch(/every entry of neurons/);
      // Every field's type before any field's entries.
      expect((await satrnnError(() => an().meanBpc([{ edits: [1 as never], patch: 5 as never }]))).message).toMatch(/patch must be an array/);
      expect((await satrnnError(() => an().meanBpc([{ edits: [{} as never] }]))).code).toBe('BAD_OPTION');
      expect((await satrnnError(() => an().meanBpc([{ inputs: [{ position: data.length - 1, byte: 1 }] }]))).message).toMatch(/past the text's last input/);
      expect((await satrnnError(() => new CumulativeKnockout(undefined as never))).code).toBe('BAD_OPTION');
      expect((await satrnnError(() => new KeepTopK({ ranking: 'abc' as never }))).code).toBe('BAD_OPTION');
      expect((await satrnnError(() => new ReadoutKnockout().run(an(), null as never))).code).toBe('BAD_OPTION');
      expect((await satrnnError(() => new ReadoutKnockout().run(an(), { onProgress: 5 as never }))).message).toMatch(/onProgress must be a function/);
    });

    it(`${p.label}: weights set to NaN after the Model was built are caught on the next call`, async () => {
      const m = parseModel(model.toBytes());
      const a = new Analysis({ model: m, data, backend });
      const before = await a.meanBpc([{}]);
      m.weights[layout(5).Wy + 3] = Number.NaN;
      const err = await satrnnError(() => a.meanBpc([{}, { knockout: [1] }]));
      expect(err.code).toBe('BAD_MODEL_VALUES');
      expect(err.message).toMatch(/Wy\[0\]\[3\] is NaN.*changed after loading|changed after loading.*Wy\[0\]\[3\] is NaN/);
      m.weights[layout(5).Wy + 3] = model.weights[layout(5).Wy + 3]!;
      expect(await a.meanBpc([{}])).toEqual(before);
    });

    it(`${p.label}: an onProgress that throws rejects the run with its error (no uncaught exception)`, async () => {
      const boom = new Error('boom');
      await expect(new ReadoutKnockout().run(an(), { onProgress: () => { throw boom; } })).rejects.toBe(boom);
      // The analysis still works afterwards.
      expect((await new ReadoutKnockout().run(an())).neurons).toHaveLength(5);
    });
  }

  it('js workers send SatrnnErrors back with their code', async () => {
    const js = selectBackend({ name: 'js', threads: 2 });
    const err = await satrnnError(() => js.trainEpoch(new Float32Array(paramCount(3)), 3, new Uint8Array(50), 0.01, { bptt: 0, lr: 0.01, clip: 5 }));
    expect(err.code).toBe('BAD_OPTION');
    expect(err.message).toMatch(/bptt must be an integer/);
  });

  it('sprintf misuse is a SatrnnError', async () => {
    expect((await satrnnError(() => sprintf('%d', 'x'))).code).toBe('BAD_OPTION');
  });
});

describe('degenerate models warn, results stay exact', () => {
  it('subnormal readout weights: a warning; certified = ordered bit for bit on every path', async () => {
    const w = new Float32Array(model.weights);
    const L = layout(5);
    for (let i = 0; i < 256 * 5; i += 3) w[L.Wy + i] = (i % 2 ? 1 : -1) * 1e-40; // most rows hold one
    const m = new Model(w, 5);
    const variants = [{}, { knockout: [0] }, { knockout: [0, 1] }, { signSnap: [2] }, { keepOnly: [3] }];
    let want: Float64Array | undefined;
    for (const p of PATHS.filter((x) => x.enabled))
      for (const readoutMethod of ['certified', 'ordered'] as const) {
        const warnings: string[] = [];
        const an = new Analysis({ model: m, data, backend: { name: p.backend, ...(p.isa ? { isa: p.isa } : {}) } as never, readoutMethod, onWarning: (x) => warnings.push(x) });
        const got = await an.meanBpc(variants);
        want ??= got;
        expect(got, `${p.label} ${readoutMethod}`).toEqual(want);
        expect(warnings.join('\n')).toMatch(/subnormal readout weights/);
      }
  });

  it('huge readout weights and a floor-dominated baseline warn once each', async () => {
    const H = 3;
    const w = new Float32Array(paramCount(H));
    const L = layout(H);
    for (let i = 0; i < 256 * H; i++) w[L.Wy + i] = ((i * 7919) % 13) * (i % 2 ? 1e29 : -1e29);
    w[L.bh] = 1;
    const warnings: string[] = [];
    const an = new Analysis({ model: new Model(w, H), data, backend: 'js', onWarning: (x) => warnings.push(x) });
    const r = await new ReadoutKnockout().run(an);
    expect(r.baselineBpc).toBeGreaterThan(32);
    await an.meanBpc([{}]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/as large as/);
    expect(warnings[1]).toMatch(/probability floor/);
    expect(an.warnings).toEqual(warnings);
  });

  it('a normal model gives no warning', async () => {
    const warnings: string[] = [];
    const w = model.weights.map((x) => (Math.abs(x) < 2 ** -126 ? 0 : x)); // randomModel plants subnormals
    await new Analysis({ model: new Model(w, 5), data, backend: 'js', onWarning: (x) => warnings.push(x) }).meanBpc([{}]);
    expect(warnings).toEqual([]);
  });
});

describe('long runs show that work goes on', () => {
  it('a large model on a short text reports progress from inside its one chunk', async () => {
    // Large H makes the one chunk long (~0.2 s here): progress must come from inside it
    // (the native watcher reports every few ms), not only when the chunk ends.
    const H = 600;
    const an = new Analysis({ model: randomModel(H, 9), data: randomText(300, 2), backend: { threads: 2 } });
    const seen: number[] = [];
    let total = 0;
    await new ReadoutKnockout().run(an, { onProgress: (d, t) => (seen.push(d), (total = t)) });
    expect(seen.some((d) => d > 0 && d < total), `progress values ${seen.join(', ')} of ${total}`).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(seen.at(-1)).toBe(total);
  });
});

describe('fuzz: option objects of the API', () => {
  // Values of every kind, including the awkward ones.
  const junk = fc.oneof(
    fc.constantFrom(null, undefined, Number.NaN, Infinity, -1, 0, 1.5, 1e12, '', 'x', true, [], {}, [null], [1.5], [-1], [99], () => 1),
    fc.integer({ min: -3, max: 8 }),
    fc.array(fc.integer({ min: -2, max: 7 }), { maxLength: 4 }),
  );
  const record = (keys: string[]) => fc.dictionary(fc.constantFrom(...keys), junk, { maxKeys: 4 });
  const an = new Analysis({ model, data, backend: { name: 'js', threads: 1 } });

  /** Either it works, or it fails with a SatrnnError: never another error. */
  async function onlySatrnnErrors(f: () => unknown): Promise<void> {
    try {
      await f();
    } catch (e) {
      if (!(e instanceof SatrnnError)) throw new Error(`not a SatrnnError: ${String(e)}`, { cause: e });
    }
  }

  it('variants, experiment options, Analysis inputs and train options', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record(['knockout', 'keepOnly', 'signSnap', 'negate', 'edits', 'neurons', 'inputs', 'bogus']), { maxLength: 3 }),
        record(['ranking', 'counts', 'top', 'thresholds', 'combinedK', 'combinedThresholds', 'percentiles', 'redux']),
        record(['baselineBpc', 'onProgress', 'signal']),
        record(['model', 'data', 'backend', 'readoutMethod', 'chunkSize', 'onWarning']),
        record(['hidden', 'epochs', 'bptt', 'lr', 'seed', 'clip', 'evaluate', 'fast', 'onEpoch']),
        async (variants, options, runOpts, input, trainOpts) => {
          await onlySatrnnErrors(() => an.meanBpc(variants as never));
          await onlySatrnnErrors(() => new CumulativeKnockout(options as never).run(an, runOpts as never));
          await onlySatrnnErrors(() => new KeepTopK(options as never).run(an, runOpts as never));
          await onlySatrnnErrors(() => new SignOnly().run(an, runOpts as never));
          await onlySatrnnErrors(() => new NeuronSuite(options as never).run(an, runOpts as never));
          await onlySatrnnErrors(() => new PruneStudy(options as never).run(an, runOpts as never));
          await onlySatrnnErrors(() => readoutDecode(model, (options as { top?: number }).top as never, options as never));
          await onlySatrnnErrors(() => new Analysis({ model, data, ...input } as never).meanBpc([{}]));
          await onlySatrnnErrors(() => train({ data: data.subarray(0, 40), hidden: 2, epochs: 1, evaluate: 'never', backend: 'js', ...trainOpts } as never));
        },
      ),
      { numRuns: process.env.SATRNN_FULL === '1' ? 300 : 40, seed: Number(process.env.FUZZ_SEED ?? 20261201) },
    );
  }, 120_000);
});
