// q5_redux: golden on every path, the CLI, cross-backend on other models and texts, the
// typed API and the pruning rules.
import { describe, expect, it } from 'vitest';
import { Analysis } from '../../lib/analysis.js';
import { applyEdits } from '../../lib/engine/edits.js';
import { countBelow, sortedMagnitudes } from '../../lib/engine/model-stats.js';
import { Model } from '../../lib/model.js';
import { selectBackend } from '../../lib/engine/index.js';
import { formatPruneStudyText } from '../../lib/programs/q5_redux/format.js';
import { PruneStudy } from '../../lib/programs/q5_redux/experiment.js';
import { reproduce } from '../../lib/programs/index.js';
import { PATHS, cli, expectSameOnEveryPath, golden, hasShared, refDataPath, refModelPath } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

describe.skipIf(!hasShared)('q5_redux golden', () => {
  const expected = hasShared ? golden('q5_redux.txt') : '';
  for (const p of PATHS)
    it.skipIf(!p.enabled)(`matches byte for byte on ${p.label}`, async () => {
      const text = await reproduce('q5_redux', [refDataPath, refModelPath], { backend: { name: p.backend, ...(p.isa ? { isa: p.isa } : {}) } });
      expect(text.split('\n')).toEqual(expected.split('\n'));
      expect(text).toBe(expected);
    }, 120_000);

  it('satrnn reproduce q5_redux prints it; bad arguments exit 2 with one line', () => {
    const r = cli('reproduce', 'q5_redux', refDataPath, refModelPath);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(expected);
    const missing = cli('reproduce', 'q5_redux', refDataPath);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/Usage: satrnn reproduce q5_redux <data> <model>/);
    const short = cli('reproduce', 'q5_redux', refModelPath.replace('sat_model.bin', 'nope.bin'), refModelPath);
    expect(short.status).toBe(2);
    expect(short.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});

describe('q5_redux on other models and texts: every path gives the same result', () => {
  for (const [H, n] of [
    [1, 30],
    [5, 200],
    [200, 40],
  ] as const)
    it(`H=${H}, n=${n}`, async () => {
      const model = randomModel(H, 1000 + H);
      const data = randomText(n, 7 + H);
      // The text formatter works for any H (percentages over H^2, H*256, H).
      await expectSameOnEveryPath((backend) => new PruneStudy().run(new Analysis({ model, data, backend })), formatPruneStudyText);
    }, 120_000);
});

describe('q5_redux API and pruning rules', () => {
  const H = 12;
  const model = randomModel(H, 3);
  // Magnitudes exactly at a threshold are kept (strict |w| < thr).
  model.Wh[0] = 0.5;
  model.Wh[1] = -0.5;
  model.Wh[2] = Math.fround(0.49999997);
  model.Wx[5] = -1;
  const data = randomText(300, 11);

  it('thresholds use a strict float comparison; thresholds are fresh per row', () => {
    const below = Array.from(model.Wh).filter((w) => Math.abs(w) < 0.5).length;
    expect(applyEdits(model, [{ matrix: 'Wh', threshold: 0.5 }]).zeroed[0]).toBe(below);
    const w = applyEdits(model, [{ matrix: 'Wh', threshold: 0.5 }]).weights;
    const Wh = w.subarray(H * 256, H * 256 + H * H);
    expect([Wh[0], Wh[1], Wh[2]]).toEqual([0.5, -0.5, 0]);
    expect(applyEdits(model, [{ matrix: 'Wx', threshold: 1 }]).weights[5]).toBe(-1);
    expect(applyEdits(model, [{ matrix: 'Wh', threshold: 0 }]).zeroed[0]).toBe(0);
  });

  it('threshold edits on matrices of every block remainder = the literal rule; counts from sorted magnitudes agree', () => {
    for (const [Hm, seed] of [[3, 1], [37, 2], [64, 3]] as const) {
      const m = randomModel(Hm, seed);
      const wts = new Float32Array(m.weights);
      const at = { Wx: 0, Wh: Hm * 256 };
      // Exact zeros of both signs, and a weight equal to a threshold (strict comparison).
      wts[at.Wh] = -0;
      wts[at.Wh + 1] = 0;
      wts[at.Wx + 2] = Math.fround(0.25);
      wts[at.Wx + 3] = -0;
      const mm = new Model(wts, Hm);
      for (const matrix of ['Wh', 'Wx'] as const) {
        const len = matrix === 'Wh' ? Hm * Hm : Hm * 256;
        const sorted = sortedMagnitudes(mm[matrix]);
        for (const threshold of [0, 0.25, 0.5, 3, 1e9]) {
          const e = applyEdits(mm, [{ matrix, threshold }]);
          const want = new Float32Array(wts);
          let z = 0;
          for (let i = at[matrix]; i < at[matrix] + len; i++)
            if (Math.abs(want[i]!) < Math.fround(threshold)) {
              want[i] = 0;
              z++;
            }
          expect(Buffer.from(e.weights.buffer).equals(Buffer.from(want.buffer)), `${matrix} ${threshold} H=${Hm}`).toBe(true);
          expect(e.zeroed[0]).toBe(z);
          expect(countBelow(sorted, threshold)).toBe(z);
        }
      }
    }
  });

  it('typed result: baseline row exact, k = H rows equal the Wh rows, redux count', async () => {
    const an = new Analysis({ model, data, backend: selectBackend({ threads: 2 }) });
    const study = new PruneStudy({ thresholds: [0, 0.5, 1], combinedK: [3, H, H + 5], combinedThresholds: [0, 0.5] });
    const r = await study.run(an);
    expect(r.whPruning.map((x) => x.threshold)).toEqual([0, 0.5, 1]);
    expect(r.whPruning[0]!.bpc).toBe(r.baselineBpc);
    expect(Object.is(r.whPruning[0]!.deltaBpc, 0)).toBe(true);
    expect(r.combined.map((c) => [c.k, c.whThreshold])).toEqual([
      [3, 0],
      [3, 0.5],
      [H, 0],
      [H, 0.5],
    ]);
    expect(r.combined[3]!.bpc).toBe(r.whPruning[1]!.bpc);
    expect(r.combined[0]!.wyPctKept).toBe((100 * 3) / H);
    const Ph = Array.from(model.Wh).filter((w) => Math.abs(w) >= 2).length;
    expect(r.redux.params).toBe(H * 256 + Ph + H + Math.min(15, H) * 256 + 256);
    const sorted = Array.from(model.Wh, Math.abs).sort((a, b) => a - b);
    expect(r.whMagnitudes.percentiles[2]).toEqual({ p: 50, value: sorted[Math.floor((50 * H * H) / 100)] });
    expect(r.whMagnitudes.max).toBe(sorted[sorted.length - 1]);
  });

  it('bad options are BAD_OPTION errors', async () => {
    const an = new Analysis({ model, data, backend: 'js' });
    await expect(new PruneStudy({ thresholds: [-1] }).run(an)).rejects.toThrow(/threshold -1/);
    await expect(new PruneStudy({ combinedK: [1.5] }).run(an)).rejects.toThrow(/combined k 1.5/);
    expect(() => new PruneStudy({ redux: { k: H + 1, whThreshold: 2 } }).reduxCount(an)).toThrow(/redux k/);
  });
});
