import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { reproduce } from '../lib/programs/index.js';
import { PATHS, golden, hasShared, refDataPath, sharedDir } from './helpers.js';

describe.skipIf(!hasShared)('golden: sat_train 5 5', () => {
  const expected = hasShared ? golden('sat_train_5epochs.txt') : '';
  const hashes = hasShared
    ? golden('sat_train_5epochs.sha256')
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/) as [string, string])
    : [];
  for (const p of PATHS) {
    it.skipIf(!p.enabled)(`stdout and every written file match on ${p.label}`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-train-'));
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        const text = await reproduce('sat_train', [refDataPath, 'model', '5', '5'], {
          backend: { backend: p.backend, ...(p.isa ? { isa: p.isa } : {}) },
        });
        expect(text).toBe(expected);
      } finally {
        process.chdir(cwd);
      }
      const written = readdirSync(dir).sort();
      expect(written).toEqual(hashes.map(([, f]) => f).sort());
      for (const [hash, file] of hashes) expect(createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex'), file).toBe(hash);
    }, 120_000);
  }
  it('golden hashes file names the three outputs', () => {
    expect(hashes.map(([, f]) => f)).toEqual(['model_epoch5.bin', 'model_best.bin', 'model_final.bin']);
    expect(sharedDir).toBeTruthy();
  });
});
