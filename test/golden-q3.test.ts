import { describe, expect, it } from 'vitest';
import { reproduce } from '../lib/programs/index.js';
import { PATHS, golden, hasShared, refDataPath, refModelPath } from './helpers.js';

describe.skipIf(!hasShared)('golden: q3_neurons', () => {
  const expected = hasShared ? golden('q3_neurons.txt') : '';
  for (const p of PATHS) {
    it.skipIf(!p.enabled)(`matches byte for byte on ${p.label}`, async () => {
      const text = await reproduce('q3_neurons', [refDataPath, refModelPath], {
        backend: { backend: p.backend, ...(p.isa ? { isa: p.isa } : {}) },
      });
      expect(text.split('\n')).toEqual(expected.split('\n'));
      expect(text).toBe(expected);
    }, 300_000);
  }
});
