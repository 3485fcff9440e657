import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../lib/engine/index.js';
import { workersAvailable } from '../../lib/engine/js/pool.js';
import { SatrnnError } from '../../lib/errors.js';
import { addon, forward, readout, rng } from '../helpers.js';
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
  ...[1, 2, 3].map((threads) => ({ name: 'js' as const, threads })),
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
