#!/usr/bin/env node
// Benchmark of sweep() end to end (never run by tests): a 1,000-row grid over 10 checkpoints
// (small perturbations of the reference model, written to a temp folder) on the 1,024-byte
// reference text. The timed call loads the models from the folder, hashes the text and the
// models, ranks the neurons of each model and evaluates every row. Method
// (notes/conventions.md): 1 warm-up, then the median of 5 runs.
// Usage: node bench/sweep.mjs [--quick] [--js] [--batch N,N,…]
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseModel, selectBackend } from '../dist/index.js';
import { sweep } from '../dist/programs/sweep/experiment.js';
import { loadAddon } from '../dist/engine/native.js';
import { machineLine, median as medianOf } from './median.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '..', 'shared', 'reference');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const withJs = args.includes('--js');
const batchArg = args[args.indexOf('--batch') + 1];
const batchSizes = args.includes('--batch') && batchArg ? batchArg.split(',').map(Number) : [undefined];
const RUNS = quick ? 3 : 5;

const modelFile = path.join(shared, 'sat_model.bin');
const dataFile = path.join(shared, 'enwik_1024.txt');
if (!existsSync(modelFile)) {
  console.error(`bench: needs ../shared/reference (not found at ${shared})`);
  process.exit(2);
}

// 10 checkpoints: every weight scaled by (1 + 0.01·u), u uniform in [-1, 1), a different draw each.
const ref = parseModel(new Uint8Array(readFileSync(modelFile)), modelFile, { hidden: 128 });
const folder = mkdtempSync(path.join(os.tmpdir(), 'satrnn-bench-sweep-'));
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
for (let c = 0; c < 10; c++) {
  const m = ref.clone(`ckpt${c}`);
  for (let i = 0; i < m.weights.length; i++) m.weights[i] = Math.fround(m.weights[i] * (1 + 0.01 * rand()));
  writeFileSync(path.join(folder, `ckpt${String(c).padStart(2, '0')}.bin`), m.toBytes());
}

// 100 rows per checkpoint: 5 readout sizes × 5 Wh thresholds × 4 Wx thresholds.
const grid = { k: [5, 10, 20, 40, 'all'], wh: [0, 0.25, 0.5, 0.75, 1], wx: [0, 0.25, 0.5, 1] };

const median = (fn) => medianOf(fn, RUNS);

const configs = [];
if (loadAddon()) configs.push({ name: 'native', threads: 2 }, { name: 'native', threads: 1 });
if (withJs) configs.push({ name: 'js', threads: 2 });
console.log(machineLine(RUNS));
console.log('| configuration | batch size | rows | median ms | rows/s |');
console.log('|---|---|---|---|---|');
try {
  for (const cfg of configs)
    for (const batchSize of batchSizes) {
      const backend = selectBackend(cfg);
      let rows = 0;
      const ms = await median(async () => {
        const r = await sweep({ models: [folder], data: dataFile, grid, backend, ...(batchSize ? { batchSize } : {}) });
        rows = r.rows.length;
      });
      const label = `${cfg.name === 'js' ? 'js' : `native ${backend.isa}`}, ${cfg.threads} thread${cfg.threads > 1 ? 's' : ''}`;
      console.log(`| ${label} | ${batchSize ?? 'default'} | ${rows} | ${ms.toFixed(0)} | ${Math.round((rows * 1000) / ms).toLocaleString('en-US')} |`);
    }
} finally {
  rmSync(folder, { recursive: true, force: true });
}
