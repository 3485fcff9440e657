#!/usr/bin/env node
// Ctrl-C or SIGTERM while the modules load (a second or more on a busy machine): nothing has
// started yet, so exit at once, as main() would for a run stopped that early.
const onEarlySignal = (sig) => {
  process.stderr.write(sig === 'SIGINT' ? '\nsatrnn: interrupted\n' : 'satrnn: terminated (SIGTERM)\n');
  process.exit(sig === 'SIGINT' ? 130 : 143);
};
process.on('SIGINT', onEarlySignal);
process.on('SIGTERM', onEarlySignal);

// The bundled CLI (scripts/bundle.mjs: two files instead of ~30 modules, ~25 ms less start-up)
// when it is at least as new as the compiled modules; after a later `tsc` without a re-bundle
// it would be stale, so the modules in dist/ run instead.
const { statSync } = await import('node:fs');
const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundled = mtime('../dist/bundle/cli.js');
const { main } = await import(bundled !== undefined && bundled >= (mtime('../dist/cli/main.js') ?? Infinity) ? '../dist/bundle/cli.js' : '../dist/cli/main.js');
// main() installs its own handlers before its first await; signals reach JavaScript only
// from the event loop, so there is no moment without a handler.
const done = main(process.argv);
process.off('SIGINT', onEarlySignal);
process.off('SIGTERM', onEarlySignal);

// main() prints its own errors and resolves to the exit status once stdout has drained;
// setting process.exitCode (not process.exit) lets pending output finish.
done.then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`satrnn: internal error: ${err?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
