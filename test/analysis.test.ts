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

describe('Analysis: readout weights that make results slow or degenerate are reported', () => {
  const H = 4;
  const wyAt = paramCount(H) - 256 - 256 * H;
  const warningsFor = (edit: (w: Float32Array) => void): string[] => {
    const w = new Float32Array(paramCount(H)).fill(0.01); // (randomModel plants subnormals)
    edit(w);
    const warnings: string[] = [];
    new Analysis({ model: new Model(w, H), data: new Uint8Array([1, 2, 3]), backend: 'js', onWarning: (m) => warnings.push(m) });
    return warnings;
  };

  it('counts subnormal Wy/by weights on both sides of zero, not zeros or the smallest normal', () => {
    expect(warningsFor(() => {})).toEqual([]);
    const warnings = warningsFor((w) => {
      w[wyAt] = 2 ** -130;
      w[wyAt + 7] = -(2 ** -149);
      w[paramCount(H) - 1] = 2 ** -127; // by
      w[wyAt + 8] = 0;
      w[wyAt + 9] = -0;
      w[wyAt + 10] = 2 ** -126; // normal
      w[wyAt + 11] = -(2 ** -126);
      w[0] = 2 ** -140; // Wx: not a readout weight
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/: 3 subnormal readout weights \(Wy\/by/);
  });

  it('names the largest readout weight when it reaches 1e6, on either sign', () => {
    expect(warningsFor((w) => (w[wyAt + 5] = -2.5e6))[0]).toMatch(/readout weights as large as 2\.50e\+6/);
    expect(warningsFor((w) => (w[paramCount(H) - 3] = 1e6))[0]).toMatch(/as large as 1\.00e\+6/);
    expect(warningsFor((w) => (w[wyAt + 5] = 9.9e5))).toEqual([]);
  });
});
