// Backend.readoutStats (the Wy column norms, largest |w| and subnormal count an Analysis reads
// at once): the same doubles on every path as the TypeScript loops, and bad arguments are
// errors, never a crash.
import { describe, expect, it } from 'vitest';
import { Analysis } from '../../lib/analysis.js';
import { selectBackend } from '../../lib/engine/index.js';
import { readoutStatsJs, wyColumnNorms } from '../../lib/engine/model-stats.js';
import { Model } from '../../lib/model.js';
import { PATHS, addon, expectCode, rng } from '../helpers.js';
import { randomModel } from '../models.js';

const bits = (a: Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

function models(): Model[] {
  const out = [1, 5, 128, 200].map((H, i) => randomModel(H, 40 + i)); // with planted subnormals and zeros
  // Edge values in the readout: ±0, the smallest subnormal, the smallest normal, huge, and
  // squares that round (float products) and overflow to Infinity.
  const H = 7;
  const w = new Float32Array(randomModel(H, 50).weights);
  const Wy = new Model(w, H).Wy;
  const r = rng(51);
  const edge = [0, -0, 2 ** -149, -(2 ** -149), 2 ** -126, -(2 ** -126), 3.4e38, -3.4e38, 1e19, 1 + 2 ** -23, 0.1];
  for (let i = 0; i < Wy.length; i++) if (r() < 0.3) Wy[i] = edge[Math.floor(r() * edge.length)]!;
  out.push(new Model(w, H));
  return out;
}

describe('readoutStats', () => {
  for (const p of PATHS)
    it.skipIf(!p.enabled)(`${p.label}: the same doubles as the TypeScript loops and wyColumnNorms`, () => {
      const be = selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 1 });
      for (const m of models()) {
        const got = be.readoutStats!(m.Wy, m.by);
        const ref = readoutStatsJs(m.Wy, m.by);
        expect(bits(got.wyNorms), `H=${m.hidden}`).toBe(bits(ref.wyNorms));
        expect(bits(got.wyNorms)).toBe(bits(wyColumnNorms(m)));
        expect(Object.is(got.maxAbs, ref.maxAbs)).toBe(true);
        expect(got.subnormal).toBe(ref.subnormal);
      }
      // The edge model: 3.4e38² overflows to Infinity in float, as in the originals.
      const edge = be.readoutStats!(models().at(-1)!.Wy, models().at(-1)!.by);
      expect(edge.wyNorms.some((x) => x === Infinity)).toBe(true);
      expect(edge.subnormal).toBeGreaterThan(0);
    });

  it('an Analysis reads them from its backend once (the q3 knockout norms)', async () => {
    const m = randomModel(9, 60);
    const an = new Analysis({ model: m, data: new Uint8Array([1, 2, 3, 4]), backend: 'js' });
    expect(an.readoutStats()).toBe(an.readoutStats());
    expect(bits(an.readoutStats().wyNorms)).toBe(bits(wyColumnNorms(m)));
  });

  it('a backend of your own without readoutStats: the Analysis computes them in TypeScript', () => {
    const m = randomModel(6, 61);
    const js = selectBackend('js');
    const own = { name: js.name, isa: js.isa, threads: 1, fastTraining: false, runChunk: js.runChunk.bind(js), trainEpoch: js.trainEpoch.bind(js), evalBpc: js.evalBpc.bind(js) };
    const an = new Analysis({ model: m, data: new Uint8Array([1, 2, 3]), backend: own });
    expect(bits(an.readoutStats().wyNorms)).toBe(bits(wyColumnNorms(m)));
  });

  for (const p of PATHS)
    it.skipIf(!p.enabled)(`${p.label}: bad arguments are BAD_OPTION`, () => {
      const be = selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 1 });
      for (const [Wy, by] of [
        [new Float32Array(255), new Float32Array(256)],
        [new Float32Array(256), new Float32Array(255)],
        [new Float32Array(0), new Float32Array(256)],
        [new Float64Array(256), new Float32Array(256)],
      ] as const)
        expectCode(() => be.readoutStats!(Wy as Float32Array, by), 'BAD_OPTION');
    });

  it.skipIf(!addon)('bad arguments to the addon itself: a TypeError or RangeError, never a crash', () => {
    const raw = addon as unknown as { readoutStats: (...a: unknown[]) => unknown };
    expect(() => raw.readoutStats()).toThrow(TypeError);
    expect(() => raw.readoutStats(new Float32Array(0), new Float32Array(256))).toThrow(RangeError);
    expect(() => raw.readoutStats(new Float32Array(512), new Float64Array(256))).toThrow(TypeError);
    expect(() => raw.readoutStats(new Float32Array(513), new Float32Array(256))).toThrow(RangeError);
  });
});
