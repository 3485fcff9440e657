#!/usr/bin/env node
'use strict';
// Writes V8 code caches beside the CLI bundle's chunks (bin/bundle-loader.cjs reads them):
// loads the bundle, runs the commands most runs are (the two reproduce programs that read a
// model and a text, and the knockout command through the full parser) on the embedded
// default model and a short text, then saves each loaded chunk's compiled code, the
// functions those runs called included. Their output is discarded.
// Usage: node scripts/code-cache.cjs <bundle folder>   (run by scripts/bundle.mjs)
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { loadBundle } = require('../bin/bundle-loader.cjs');

const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'dist', 'bundle'));
const assets = path.join(__dirname, '..', 'assets');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'satrnn-code-cache-'));

async function main() {
  // A short text keeps the runs quick on either backend (the js one when no addon is built).
  const text = path.join(tmp, 'text.txt');
  writeFileSync(text, readFileSync(path.join(assets, 'default-corpus.txt')).subarray(0, 400));
  const model = path.join(assets, 'default-model.bin');
  const bundle = loadBundle(dir, { produce: true });
  for (const args of [
    ['reproduce', 'q3_neurons', text, model],
    ['reproduce', 'q5_redux', text, model],
    ['knockout', '-m', model, '-d', text],
  ]) {
    const code = await bundle.cli.main([process.execPath, 'satrnn', ...args]);
    if (code !== 0) throw new Error(`satrnn ${args.join(' ')} exited ${code}`);
  }
  return bundle.writeCaches();
}

main()
  .then((n) => {
    process.stderr.write(`satrnn: code caches for ${n} bundle chunks\n`);
  })
  .catch((err) => {
    process.stderr.write(`satrnn: no code caches (${err?.message ?? err})\n`);
    process.exitCode = 1;
  })
  .finally(() => rmSync(tmp, { recursive: true, force: true }));
