// The embedded default model is what its manifest says: re-running the first epochs of the
// recorded command reproduces the recorded checkpoint hashes, on every backend.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../lib/engine/index.js';
import { DEFAULT_CORPUS, DEFAULT_MODEL } from '../lib/assets.js';
import { loadModel } from '../lib/model.js';
import { train } from '../lib/programs/sat_train/experiment.js';
import { PATHS, repoRoot } from './helpers.js';

const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'assets', 'default-model.json'), 'utf8')) as {
  options: { hidden: number; epochs: number; bptt: number; lr: number; seed: number; clip: number };
  corpusSha256: string;
  modelSha256: string;
  checkpointSha256: string[];
};
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('embedded default model', () => {
  it('files match the manifest', () => {
    expect(sha(readFileSync(DEFAULT_CORPUS))).toBe(manifest.corpusSha256);
    expect(sha(readFileSync(DEFAULT_MODEL))).toBe(manifest.modelSha256);
    expect(loadModel(DEFAULT_MODEL).hidden).toBe(manifest.options.hidden);
  });
  for (const p of PATHS) {
    it.skipIf(!p.enabled)(`the first ${manifest.checkpointSha256.length} epochs re-run bit for bit on ${p.label}`, async () => {
      const data = new Uint8Array(readFileSync(DEFAULT_CORPUS));
      const stop = new AbortController();
      const got: string[] = [];
      await train({
        data,
        ...manifest.options,
        evaluate: 'never',
        backend: selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}) }),
        signal: stop.signal,
        onEpoch: (m, state) => {
          got.push(sha(new Uint8Array(state.weights.buffer.slice(0))));
          if (m.epoch === manifest.checkpointSha256.length) stop.abort();
        },
      }).catch((err: Error) => {
        if (!/aborted/.test(err.message)) throw err;
      });
      expect(got).toEqual(manifest.checkpointSha256);
    }, 120_000);
  }
});
