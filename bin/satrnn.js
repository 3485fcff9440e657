#!/usr/bin/env node
// CommonJS (bin/package.json), so that a plain run never starts Node's ES module loader: the
// bundled CLI is CommonJS too, and requiring it costs ~12 ms less than importing ES modules.
'use strict';
const { statSync } = require('node:fs');
const path = require('node:path');

// The bundled CLI (scripts/bundle.mjs: a plain `reproduce` loads 4 files instead of ~30 ES
// modules, compiled from V8 code caches: bundle-loader.cjs) when it is at least as new as
// dist/cli/main.js, which every full `tsc` rewrites: after a later build without a re-bundle
// it would be stale, so the ES modules in dist/ run. A bundle that fails to load (a missing
// chunk, say) also falls back to them.
const mtime = (rel) => statSync(path.join(__dirname, rel), { throwIfNoEntry: false })?.mtimeMs;
const bundled = mtime('../dist/bundle/cli.cjs');
let cli;
if (bundled !== undefined && bundled >= (mtime('../dist/cli/main.js') ?? Infinity)) {
  try {
    // Synchronous, so no signal can arrive before main() below installs its handlers (a
    // Ctrl-C while it loads gets Node's default: the process ends at once).
    cli = require('./bundle-loader.cjs').loadBundle(path.join(__dirname, '..', 'dist', 'bundle')).cli;
  } catch {
    cli = undefined;
  }
}

let loaded;
if (cli) loaded = Promise.resolve(cli);
else {
  // Ctrl-C or SIGTERM while the ES modules load (a second or more on a busy machine): nothing
  // has started yet, so exit at once, as main() would for a run stopped that early.
  const onEarlySignal = (sig) => {
    process.stderr.write(sig === 'SIGINT' ? '\nsatrnn: interrupted\n' : 'satrnn: terminated (SIGTERM)\n');
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onEarlySignal);
  process.on('SIGTERM', onEarlySignal);
  loaded = import('../dist/cli/main.js').then((m) => {
    // main() (called next, in this same microtask chain) installs its own handlers before
    // its first await; signals reach JavaScript only from the event loop, so there is no
    // moment without a handler.
    process.off('SIGINT', onEarlySignal);
    process.off('SIGTERM', onEarlySignal);
    return m;
  });
}

// main() prints its own errors and resolves to the exit status once stdout has drained;
// setting process.exitCode (not process.exit) lets pending output finish.
loaded
  .then(({ main }) => main(process.argv))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err) => {
    process.stderr.write(`satrnn: internal error: ${err?.message ?? String(err)}\n`);
    process.exitCode = 1;
  });
