// q3_neurons: golden on every path; its modern command `satrnn knockout`.
import { describe, expect, it } from 'vitest';
import { reproduce } from '../../lib/programs/index.js';
import { PATHS, expectSameOnEveryPath, golden, hasShared, refDataPath, refModelPath, repoRoot } from '../helpers.js';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Analysis } from '../../lib/analysis.js';
import { NeuronSuite, ReadoutKnockout } from '../../lib/programs/q3_neurons/experiment.js';
import { formatNeuronSuiteText } from '../../lib/programs/q3_neurons/format.js';
import { randomModel, randomText } from '../models.js';

describe.skipIf(!hasShared)('golden: q3_neurons', () => {
  const expected = hasShared ? golden('q3_neurons.txt') : '';
  for (const p of PATHS) {
    it.skipIf(!p.enabled)(`matches byte for byte on ${p.label}`, async () => {
      const text = await reproduce('q3_neurons', [refDataPath, refModelPath], {
        backend: { name: p.backend, ...(p.isa ? { isa: p.isa } : {}) },
      });
      expect(text.split('\n')).toEqual(expected.split('\n'));
      expect(text).toBe(expected);
    }, 300_000);
  }
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'satrnn-ko-'));
const models = [randomModel(5, 1), randomModel(9, 2)];
const folder = path.join(dir, 'models');
mkdirSync(folder);
models.forEach((m, i) => writeFileSync(path.join(folder, `m${i}.bin`), m.toBytes()));
const text = randomText(300, 3);
const dataFile = path.join(dir, 'text.bin');
writeFileSync(dataFile, text);

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'satrnn.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('satrnn knockout', () => {
  it('JSON: schema, provenance, and the same numbers as the API, for every model of a folder', async () => {
    const r = cli('knockout', '--model', folder, '--data', dataFile, '--json');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema).toBe('satrnn.knockout/2');
    expect(doc.provenance.satrnn).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.provenance.data.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(doc.models).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      const m = models[i]!;
      const want = await new ReadoutKnockout().run(new Analysis({ model: m, data: text, backend: 'js' }));
      const got = doc.models[i];
      expect(got.hidden).toBe(m.hidden);
      expect(got.sha256).toBe(createHash('sha256').update(m.toBytes()).digest('hex'));
      expect(got.baselineBpc).toBe(want.baselineBpc);
      expect(got.predictions).toBe(text.length - 1);
      expect(got.ranking).toEqual(want.ranking);
      // JSON lists neurons in rank order, each entry the API's NeuronKnockout (same keys, same numbers).
      expect(got.neurons).toEqual(want.ranking.map((j) => want.neurons[j]));
    }
  });
  it('CSV and --top; table to a file with -o', () => {
    const csv = cli('knockout', '-m', path.join(folder, 'm1.bin'), '-d', dataFile, '--csv', '--top', '4');
    expect(csv.status).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('model_file,rank,neuron,baseline_bpc,bpc,delta_bpc,wy_norm,mean_abs_h');
    expect(lines[1]!.split(',').slice(1, 3)).toEqual(['1', expect.stringMatching(/^\d$/)]);
    expect(lines).toHaveLength(5);
    const out = path.join(dir, 'table.txt');
    const t = cli('knockout', '-m', path.join(folder, 'm0.bin'), '-d', dataFile, '-o', out);
    expect(t.status).toBe(0);
    expect(t.stdout).toBe('');
    const table = readFileSync(out, 'utf8');
    expect(table).toMatch(/hidden 5, predictions \d+, baseline_bpc \d+\.\d{4}/);
    expect(table.trim().split('\n')).toHaveLength(2 + 5);
  });
});

describe('q3_neurons on other models and texts: every path gives the same result', () => {
  for (const [H, n] of [
    [1, 40],
    [5, 300],
    [200, 60],
  ] as const)
    it(`H=${H}, n=${n}`, async () => {
      const model = randomModel(H, 500 + H);
      const data = randomText(n, 9 + H);
      await expectSameOnEveryPath(
        (backend) => new NeuronSuite({ top: Math.min(10, H) }).run(new Analysis({ model, data, backend })),
        formatNeuronSuiteText,
      );
    }, 120_000);
});
