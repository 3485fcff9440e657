#!/usr/bin/env node
// Benchmarks (never run by tests). Method (notes/conventions.md): model and data already in
// memory, formatting excluded, 1 warm-up then the median of 5 runs. Compared with the
// originals' recorded times (notes/baselines.md). Usage: npm run bench [-- --quick] [-- --only suites|train|variants]
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Analysis, NeuronSuite, PruneStudy, USE, evaluate, parseModel, selectBackend, train } from '../dist/index.js';
import { loadAddon } from '../dist/engine/native.js';
import { machineLine, median as medianOf } from './median.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '..', 'shared', 'reference');
const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 5;
// --only NAME runs one section: suites (q3/q5), train, variants (readout and dynamics variants/s).
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (onlyAt >= 0 && !['suites', 'train', 'variants'].includes(only)) {
  console.error(`bench: --only takes suites, train or variants (got ${only ?? 'nothing'})`);
  process.exit(2);
}
const section = (name) => only === undefined || only === name;

function reference() {
  const mf = path.join(shared, 'sat_model.bin');
  if (!existsSync(mf)) {
    console.error(`bench: needs ../shared/reference (not found at ${shared})`);
    process.exit(2);
  }
  const model = parseModel(new Uint8Array(readFileSync(mf)), mf, { hidden: 128 });
  const data = new Uint8Array(readFileSync(path.join(shared, 'enwik_1024.txt'))).subarray(0, 1024);
  return { model, data };
}

const median = (fn) => medianOf(fn, RUNS);

const { model, data } = reference();
const rows = [];
const configs = [];
if (loadAddon()) {
  const info = loadAddon().info();
  const isas = [...(info.avx512 ? ['avx512'] : []), ...(info.avx2 ? ['avx2'] : []), ...(info.sse2 ? ['sse2'] : []), 'scalar'];
  for (const isa of isas) for (const threads of [1, 2]) configs.push({ name: 'native', isa, threads });
}
configs.push({ name: 'js', threads: 1 }, { name: 'js', threads: 2 });

// The whole q3 and q5 studies in-process (every pass over the text, nothing cached between runs).
const suites = [
  { what: 'q3_neurons suite', base: '7.1 s', originalMs: 7100, run: (an) => new NeuronSuite().run(an) },
  { what: 'q5_redux suite', base: '6.5 s', originalMs: 6500, run: (an) => new PruneStudy().run(an) },
];
for (const suite of section('suites') ? suites : [])
  for (const cfg of configs) {
    const backend = selectBackend(cfg);
    const label = `${cfg.name === 'js' ? 'js' : `native ${cfg.isa}`}, ${cfg.threads} thread${cfg.threads > 1 ? 's' : ''}`;
    const ms = await median(() => suite.run(new Analysis({ model, data, backend })));
    rows.push({ what: suite.what, label, ms, ratio: suite.originalMs / ms, base: suite.base });
    console.error(`${suite.what} ${label}: ${ms.toFixed(1)} ms`);
  }

// sat_train 5 5 on the reference text: 5 epochs + the 6 evaluations the original runs.
const ORIGINAL_TRAIN_MS = 390;
const trainConfigs = [
  ...(loadAddon()?.info().fastTraining ? [{ name: 'native', isa: 'avx2', fast: true }] : []),
  ...(loadAddon() ? [...(loadAddon().info().avx2 ? ['avx2'] : []), ...(loadAddon().info().sse2 ? ['sse2'] : []), 'scalar'].map((isa) => ({ name: 'native', isa })) : []),
  { name: 'js', threads: 1 },
];
for (const { fast, ...cfg } of section('train') ? trainConfigs : []) {
  const backend = selectBackend(cfg);
  const label = `${cfg.name === 'js' ? 'js' : `native ${cfg.isa}`}${fast ? ` --fast (not exact), ${backend.threads} thread${backend.threads > 1 ? 's' : ''}` : ', exact'}`;
  const ms = await median(async () => {
    const r = await train({ data, epochs: 5, backend, fast });
    await backend.evalBpc(r.best.model.weights, 128, data, { fast });
  });
  rows.push({ what: 'sat_train 5 epochs (+6 evals)', label, ms, ratio: ORIGINAL_TRAIN_MS / ms, base: '0.39 s' });
  console.error(`train ${label}: ${ms.toFixed(1)} ms`);
}

// Readout variants per second: 10,000 random single/multi-neuron readout knockouts on one
// trajectory at n = 1024 (one forward pass, then 10,000 exact readouts).
const threadLabel = (t) => `${t} thread${t > 1 ? 's' : ''}`;
if (loadAddon() && section('variants'))
  for (const threads of [1, 2]) {
    const backend = selectBackend({ name: 'native', threads });
    const an = new Analysis({ model, data, backend });
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
    const variants = Array.from({ length: 10_000 }, () => ({ knockout: Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => Math.floor(rnd() * 128)) }));
    const ms = await median(() => an.meanBpc(variants));
    rows.push({ what: '10,000 readout variants (n=1024)', label: `native ${backend.isa}, ${threadLabel(threads)}`, ms, ratio: null, vps: 10_000 / (ms / 1000) });
    console.error(`readout variants ${threadLabel(threads)}: ${ms.toFixed(1)} ms`);
  }

// Dynamics variants per second: 64 variants of the forward pass at n = 1024, each with one
// neuron clamped to 0 inside the recurrence, and each read out exactly (all neurons as
// they are): a full forward pass and its readout per variant, as in a neuron-ablation sweep.
const DYNAMICS_VARIANTS = 64;
const allValue = new Uint8Array(model.hidden).fill(USE.value);
const dynamicsGroups = Array.from({ length: DYNAMICS_VARIANTS }, (_, j) => ({ dynamics: { neurons: [{ neuron: j % model.hidden, clamp: 0 }] }, use: allValue }));
const dynamicsConfigs = [...(loadAddon() ? [1, 2].map((threads) => ({ name: 'native', threads })) : []), ...[1, 2].map((threads) => ({ name: 'js', threads }))];
for (const cfg of section('variants') ? dynamicsConfigs : []) {
  const backend = selectBackend(cfg);
  const label = `${cfg.name === 'js' ? 'js' : `native ${backend.isa}`}, ${threadLabel(cfg.threads)}`;
  const ms = await median(() => evaluate(backend, { model, text: data, groups: dynamicsGroups }));
  rows.push({ what: `${DYNAMICS_VARIANTS} dynamics variants (n=1024)`, label, ms, ratio: null, vps: DYNAMICS_VARIANTS / (ms / 1000) });
  console.error(`dynamics variants ${label}: ${ms.toFixed(1)} ms`);
}

console.log(`\n${machineLine(RUNS)}\n`);
console.log('| benchmark | configuration | median ms | speed-up vs original | variants/s |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.what} | ${r.label} | ${r.ms.toFixed(1)} | ${r.ratio ? `${r.ratio.toFixed(r.ratio < 10 ? 1 : 0)}× (of ${r.base})` : ''} | ${r.vps ? Math.round(r.vps).toLocaleString('en-US') : ''} |`);
