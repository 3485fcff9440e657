// The public surface (lib/index.ts): what it exports, the one experiment shape (options in,
// typed result out, the baseline passed the same way everywhere), the backend choice, and
// the defects the API review found.
import { describe, expect, it } from 'vitest';
import * as api from '../lib/index.js';
import { Analysis, CumulativeKnockout, KeepTopK, Model, NeuronSuite, ReadoutKnockout, SignOnly, formatNeuronSuiteText, paramCount, pctOfGap, selectBackend, layout } from '../lib/index.js';
import { randomModel, randomText } from './models.js';

describe('public exports', () => {
  it('internals are not exported', () => {
    for (const name of ['loadAddon', 'JsBackend', 'NativeBackend', 'rankByDelta', 'defaultCounts', 'isReportedEpoch', 'resolveTrainOptions', 'resolveBackend'])
      expect(Object.keys(api), name).not.toContain(name);
  });
});

describe('backend choice', () => {
  it("a name, 'auto', or { name, isa?, threads? }; an ISA only with the native backend", () => {
    expect(selectBackend('js').name).toBe('js');
    expect(selectBackend({ name: 'js', threads: 1 }).threads).toBe(1);
    expect(['native', 'js']).toContain(selectBackend('auto').name);
    expect(() => selectBackend({ name: 'js', isa: 'avx2' } as never)).toThrow(/only exists for the native backend/);
    expect(() => selectBackend('gpu' as never)).toThrow(/unknown backend 'gpu'/);
  });
});

describe('one experiment shape', () => {
  const model = randomModel(6, 31);
  const data = randomText(200, 8);
  const an = new Analysis({ model, data, backend: { name: 'js', threads: 1 } });

  it('a given baselineBpc gives the same result as one evaluated in the same pass', async () => {
    const ko = await new ReadoutKnockout().run(an);
    const B = ko.baselineBpc;
    expect(await new ReadoutKnockout().run(an, { baselineBpc: B })).toEqual(ko);
    const opts = { ranking: ko.ranking, counts: [0, 2, 6] };
    for (const X of [CumulativeKnockout, KeepTopK]) {
      const own = await new X(opts).run(an);
      const given = await new X(opts).run(an, { baselineBpc: B });
      expect(given).toEqual(own);
      expect(own.baselineBpc).toBe(B);
      expect(own.rows).toHaveLength(3);
    }
    const sign = await new SignOnly().run(an);
    expect(await new SignOnly().run(an, { baselineBpc: B })).toEqual(sign);
    for (const n of sign.neurons) expect(n.deltaBpc).toBe(n.bpc - B);
    // rank and ranking say the same thing, in both results.
    for (const r of [ko, sign]) r.ranking.forEach((j, i) => expect(r.neurons[j]!.rank).toBe(i + 1));
    await expect(new ReadoutKnockout().run(an, { baselineBpc: Number.NaN })).rejects.toMatchObject({ code: 'BAD_OPTION' });
  });

  it('neurons[j] is neuron j', async () => {
    const ko = await new ReadoutKnockout().run(an);
    ko.neurons.forEach((n, j) => expect(n.neuron).toBe(j));
  });
});

describe('% of the compression gap', () => {
  it('is undefined when the baseline is >= 8 bpc; the reproduce text keeps the original expression', async () => {
    expect(pctOfGap(6, 4)).toBe(50);
    expect(pctOfGap(7, 8)).toBeUndefined();
    expect(pctOfGap(7, 9)).toBeUndefined();
    // A model that bets everything on byte 255, which the text never has: baseline >> 8 bpc.
    const H = 3;
    const w = new Float32Array(paramCount(H));
    w[layout(H).by + 255] = 40;
    const an = new Analysis({ model: new Model(w, H), data: new Uint8Array([1, 2, 3, 4, 5, 6]), backend: 'js' });
    const suite = await new NeuronSuite().run(an);
    expect(suite.baselineBpc).toBeGreaterThan(8);
    for (const row of suite.keepTopK.rows) expect(row.pctOfGap).toBeUndefined();
    const B = suite.baselineBpc;
    const original = (100.0 * (8.0 - suite.keepTopK.rows[0]!.bpc)) / (8.0 - B);
    expect(original).toBeGreaterThan(0); // (8 - b)/(8 - B) with both above 8: what q3 printed
    expect(formatNeuronSuiteText(suite)).toContain(api.sprintf('%6.1f%%', original));
  });
});
