// Analysis (lib/analysis.ts): variants are checked before they run, and variants that differ
// only in their inputs start from the kept base trajectory, with the same results on every path.
import { describe, expect, it } from 'vitest';
import { Analysis } from '../lib/analysis.js';
import { selectBackend, type Backend } from '../lib/engine/index.js';
import { Model, paramCount } from '../lib/model.js';
import { PATHS } from './helpers.js';
import { randomModel, randomText } from './models.js';

const backends: [string, Backend][] = PATHS.filter((p) => p.enabled).map((p) => [
  p.label,
  selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 2 }),
]);

describe('Analysis: variants are checked', () => {
  it('a knockout neuron index out of range or not an integer is an error naming it', async () => {
    const model = new Model(new Float32Array(paramCount(4)), 4);
    const an = new Analysis({ model, data: new Uint8Array([1, 2, 3]), backend: 'js' });
    await expect(an.meanBpc([{ knockout: [4] }])).rejects.toThrow(/neuron index 4 is out of range 0..3/);
    await expect(an.meanBpc([{ knockout: [1.5] }])).rejects.toThrow(/neuron index 1.5 is not an integer/);
  });
});

describe('Analysis: variants that differ only in their inputs start from the base run', () => {
  it('the second pass (base trajectory kept) equals the first (full re-runs), on every path', async () => {
    const model = randomModel(13, 8);
    const data = randomText(400, 9);
    const variants = [{}, { inputs: [{ position: 150, byte: 1 }] }, { inputs: [{ position: 390, byte: 2 }, { position: 200, byte: 0 }], knockout: [3] }, { inputs: [{ position: 0, byte: 5 }] }];
    let ref: number[] | undefined;
    for (const [label, inner] of backends) {
      // Record which chunks start a group late (from > 0 with the base states as prefix).
      const started: boolean[] = [];
      const backend = Object.create(inner) as Backend;
      backend.runChunk = (req, o) => {
        started.push(req.groups.some((g) => (g.from ?? 0) > 0 && g.prefix !== undefined));
        return inner.runChunk(req, o);
      };
      const an = new Analysis({ model, data, backend });
      const first = Array.from(await an.meanBpc(variants)); // no base trajectory yet: full re-runs
      expect(started).toEqual([false]);
      const second = Array.from(await an.meanBpc(variants)); // started at the first substitution
      expect(started).toEqual([false, true]);
      expect(second, label).toEqual(first);
      ref ??= first;
      expect(first, label).toEqual(ref);
    }
  });
});
