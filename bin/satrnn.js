#!/usr/bin/env node
// CommonJS (bin/package.json), so that a plain run never starts Node's ES module loader: the
// bundled CLI is CommonJS too, and requiring it costs ~12 ms less than importing ES modules.
'use strict';
// Ctrl-C or SIGTERM while the modules load (a second or more on a busy machine): nothing has
// started yet, so exit at once, as main() would for a run stopped that early.
const onEarlySignal = (sig) => {
  process.stderr.write(sig === 'SIGINT' ? '\nsatrnn: interrupted\n' : 'satrnn: terminated (SIGTERM)\n');
  process.exit(sig === 'SIGINT' ? 130 : 143);
};
process.on('SIGINT', onEarlySignal);
process.on('SIGTERM', onEarlySignal);

// The bundled CLI (scripts/bundle.mjs: a plain `reproduce` requires 4 files instead of ~30 ES
// modules) when it is at least as new as the compiled modules; after a later `tsc` without a
// re-bundle it would be stale, so the ES modules in dist/ run instead.
const { statSync } = require('node:fs');
const path = require('node:path');
const mtime = (rel) => statSync(path.join(__dirname, rel), { throwIfNoEntry: false })?.mtimeMs;
const bundled = mtime('../dist/bundle/cli.cjs');
const fresh = bundled !== undefined && bundled >= (mtime('../dist/cli/main.js') ?? Infinity);
const loaded = fresh ? Promise.resolve(require('../dist/bundle/cli.cjs')) : import('../dist/cli/main.js');

loaded.then(({ main }) => {
  // main() installs its own handlers before its first await; signals reach JavaScript only
  // from the event loop, so there is no moment without a handler.
  const done = main(process.argv);
  process.off('SIGINT', onEarlySignal);
  process.off('SIGTERM', onEarlySignal);
  // main() prints its own errors and resolves to the exit status once stdout has drained;
  // setting process.exitCode (not process.exit) lets pending output finish.
  return done.then((code) => {
    process.exitCode = code;
  });
}).catch((err) => {
  process.stderr.write(`satrnn: internal error: ${err?.message ?? String(err)}\n`);
  process.exitCode = 1;
});
