#!/usr/bin/env node
// Whole-process wall times of `satrnn reproduce q3_neurons` against a gcc -O2 build of the
// original's stand-in (bench/original/q3_neurons.c, written from the spec) on this machine,
// and of Node alone (`node -e 0`), each started the way a user starts it: a fresh process,
// timed from spawn to exit. Unlike bench/run.mjs, this includes Node's start-up, module
// loading, file reading and printing. Never run by the tests.
//
// Without npm:  node bench/startup.mjs [--runs 11] [--standin-runs 3] [--isa NAME]
//                                      [--env NAME=VALUE]...
// Needs dist/ with the CLI bundle and its code caches (`npm run build`; with dist/ alone the
// CLI runs unbundled, slower), gcc, and ../shared/reference beside the checkout.
// --isa sets SATRNN_ISA (avx2, sse2, scalar, ...; satrnn checks it) and --env (repeatable) any
// variable for the satrnn child only.
//
// Method: one warm-up run of every command, then the commands interleaved round by round
// (the order rotating each round) so that a noisy neighbour slows all of them alike; median
// and minimum per command. The stand-in takes seconds, so it gets fewer runs. satrnn's output
// must equal the stand-in's byte for byte on every run (compared here; no golden file is read).
// When NODE_EXTRA_CA_CERTS is set, Node reads that CA bundle at every start, so the Node
// commands are also timed with it removed from the child's environment.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine } from './median.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '..', 'shared', 'reference');
const dataFile = path.join(shared, 'enwik_1024.txt');
const modelFile = path.join(shared, 'sat_model.bin');

function fail(msg) {
  console.error(`bench/startup: ${msg}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { runs: 11, standinRuns: 3, childEnv: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const count = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) fail(`${flag} takes a whole number of runs >= 1 (got ${value ?? 'nothing'})`);
      i++;
      return n;
    };
    if (flag === '--runs') opts.runs = count();
    else if (flag === '--standin-runs') opts.standinRuns = count();
    else if (flag === '--isa') {
      if (!value) fail('--isa takes an ISA name (avx2, sse2, scalar, ...; satrnn checks it)');
      opts.childEnv.SATRNN_ISA = value;
      i++;
    } else if (flag === '--env') {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value ?? '');
      if (!m) fail(`--env takes NAME=VALUE (got ${value ?? 'nothing'})`);
      opts.childEnv[m[1]] = m[2];
      i++;
    } else fail(`unknown option ${flag}; options: --runs N, --standin-runs N, --isa NAME, --env NAME=VALUE`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
if (!existsSync(modelFile) || !existsSync(dataFile)) fail(`needs ../shared/reference (not found at ${shared})`);
if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) fail('needs dist/: run `npm run build` first');
if (!existsSync(path.join(root, 'dist', 'bundle', 'cli.cjs'))) console.error('bench/startup: no CLI bundle in dist/bundle (`npm run build` makes it): timing the unbundled CLI');

// The stand-in, built as its header says (the flags the originals used, plus an explicit
// -ffp-contract=off that gcc -O2 on x86-64 already implies).
const tmp = mkdtempSync(path.join(os.tmpdir(), 'satrnn-startup-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const standinBin = path.join(tmp, 'q3_neurons');
const cc = spawnSync('gcc', ['-O2', '-ffp-contract=off', '-o', standinBin, path.join(root, 'bench', 'original', 'q3_neurons.c'), '-lm'], { encoding: 'utf8' });
if (cc.error || cc.status !== 0) fail(`cannot build bench/original/q3_neurons.c with gcc: ${cc.error?.message ?? cc.stderr.trim()}`);

const caCerts = process.env.NODE_EXTRA_CA_CERTS;
const withoutCa = (env) => {
  const e = { ...env };
  delete e.NODE_EXTRA_CA_CERTS;
  return e;
};
const satrnnArgs = [path.join(root, 'bin', 'satrnn.js'), 'reproduce', 'q3_neurons', dataFile, modelFile];
const satrnnEnv = { ...process.env, ...opts.childEnv };
const commands = [
  { key: 'node', label: 'node -e 0 (Node alone)', file: process.execPath, args: ['-e', '0'], env: process.env, runs: opts.runs },
  { key: 'satrnn', label: 'satrnn reproduce q3_neurons', file: process.execPath, args: satrnnArgs, env: satrnnEnv, runs: opts.runs, output: true },
  { key: 'standin', label: 'stand-in for the original (gcc -O2, 1 thread)', file: standinBin, args: [dataFile, modelFile], env: process.env, runs: opts.standinRuns, output: true },
  ...(caCerts
    ? [
        { key: 'node-noca', label: 'node -e 0, without NODE_EXTRA_CA_CERTS', file: process.execPath, args: ['-e', '0'], env: withoutCa(process.env), runs: opts.runs },
        { key: 'satrnn-noca', label: 'satrnn reproduce q3_neurons, without NODE_EXTRA_CA_CERTS', file: process.execPath, args: satrnnArgs, env: withoutCa(satrnnEnv), runs: opts.runs, output: true },
      ]
    : []),
];

let reference; // the stand-in's stdout, which every satrnn run must equal
const pendingOutputs = [];
function runOnce(cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd.file, cmd.args, { env: cmd.env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error || r.status !== 0) fail(`${cmd.label} failed (status ${r.status}): ${r.error?.message ?? r.stderr.toString().trim()}`);
  if (r.stderr.length > 0) fail(`${cmd.label} wrote to stderr: ${r.stderr.toString().trim()}`);
  if (cmd.output) {
    if (cmd.key === 'standin') reference ??= r.stdout;
    pendingOutputs.push({ cmd, stdout: r.stdout });
    checkOutputs();
  }
  return ms;
}
function checkOutputs() {
  if (!reference) return;
  for (const { cmd, stdout } of pendingOutputs.splice(0))
    if (!stdout.equals(reference)) fail(`${cmd.label} printed something other than the stand-in (${stdout.length} vs ${reference.length} bytes); timings of different work are not comparable`);
}

// The stand-in first, so that the outputs are checked from the first satrnn run on.
const warmupOrder = [...commands.filter((c) => c.key === 'standin'), ...commands.filter((c) => c.key !== 'standin')];
console.error(`warm-up: ${warmupOrder.length} commands (the stand-in takes several seconds)`);
for (const cmd of warmupOrder) runOnce(cmd);

const times = new Map(commands.map((c) => [c.key, []]));
const rounds = Math.max(...commands.map((c) => c.runs));
for (let round = 0; round < rounds; round++) {
  const order = commands.map((_, i) => commands[(i + round) % commands.length]);
  for (const cmd of order) if (times.get(cmd.key).length < cmd.runs) times.get(cmd.key).push(runOnce(cmd));
  console.error(`round ${round + 1}/${rounds}`);
}

// The median of bench/median.mjs: the middle of the sorted times (the upper one for an even count).
const middle = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = new Map(commands.map((c) => [c.key, { median: middle(times.get(c.key)), min: Math.min(...times.get(c.key)) }]));
const ms = (x) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);

console.log(`\n${machineLine(opts.runs)} (the stand-in: median of ${opts.standinRuns})`);
const isa = opts.childEnv.SATRNN_ISA ?? process.env.SATRNN_ISA;
const extra = Object.entries(opts.childEnv).filter(([k]) => k !== 'SATRNN_ISA');
console.log(`satrnn child: SATRNN_ISA=${isa ?? '(unset: best for this CPU)'}${extra.map(([k, v]) => `, ${k}=${v}`).join('')}; outputs of satrnn and the stand-in identical on every run\n`);
console.log('| whole process | median | min | runs |');
console.log('|---|---|---|---|');
for (const c of commands) console.log(`| ${c.label} | ${ms(stats.get(c.key).median)} | ${ms(stats.get(c.key).min)} | ${times.get(c.key).length} |`);

const standin = stats.get('standin');
const ratioLine = (key, what) => {
  const s = stats.get(key);
  return `stand-in / ${what}: ${(standin.median / s.median).toFixed(1)}× (medians), ${(standin.min / s.min).toFixed(1)}× (minima); satrnn's own work beyond Node's start: ${ms(s.median - stats.get(key === 'satrnn' ? 'node' : 'node-noca').median)} (medians)`;
};
console.log('');
console.log(ratioLine('satrnn', 'satrnn'));
if (caCerts) {
  console.log(ratioLine('satrnn-noca', 'satrnn without NODE_EXTRA_CA_CERTS'));
  const cost = stats.get('node').median - stats.get('node-noca').median;
  console.log(
    `NODE_EXTRA_CA_CERTS is set (${caCerts}): every Node process reads that CA bundle at start-up, ` +
      `${ms(cost)} per start here (node -e 0: ${ms(stats.get('node').median)} with it, ${ms(stats.get('node-noca').median)} without; ` +
      `satrnn: ${ms(stats.get('satrnn').median)} with, ${ms(stats.get('satrnn-noca').median)} without).`,
  );
} else console.log('NODE_EXTRA_CA_CERTS is not set: nothing to subtract.');
