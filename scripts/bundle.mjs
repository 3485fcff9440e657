#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js and everything it imports) into dist/bundle/,
// so that `satrnn` starts by loading a few files instead of ~30 ES modules: Node's ESM
// loader costs ~1 ms per module here, a tenth of a whole `satrnn reproduce q3_neurons`.
// Modules loaded on demand (commander's program, each program's code, the js backend's
// worker pool) stay separate chunks, loaded only when a command needs them.
// bin/satrnn.js uses the bundle only when it is newer than dist/cli/main.js (a later `tsc`
// makes it stale; bin then loads dist/ directly), so a forgotten re-bundle is slower, never wrong.
// Run by `npm run build` (and prepare, prepack, pretest) after tsc.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// --out DIR: another folder (tests bundle into a scratch folder inside the package).
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, 'dist', 'bundle');

// The modules of the full command parser (commander): lib/cli/program.ts, the shared command
// helpers, and each command's registration (lib/cli/*.ts commands, lib/programs/*/cli.ts).
const COMMANDS = /[\\/]dist[\\/](cli[\\/](program|common|model-runs|info|knockout|reproduce|train)|programs[\\/][^\\/]+[\\/]cli)\.js$/;

let rolldown;
try {
  rolldown = await import('rolldown');
} catch {
  // Not installed (an install without dev dependencies): bin/satrnn.js loads dist/ directly.
  process.stderr.write('satrnn: rolldown is not installed; the CLI runs unbundled (slower start)\n');
  process.exit(0);
}

rmSync(out, { recursive: true, force: true });
await rolldown.build({
  input: { cli: path.join(root, 'dist', 'cli', 'main.js') },
  platform: 'node',
  // commander is a dependency loaded only by the full command parser; Node's modules are built in.
  external: [/^node:/, 'commander'],
  logLevel: 'warn',
  // The entry's exports are the CLI's main() and buildProgram(); nothing else imports it.
  preserveEntrySignatures: 'allow-extension',
  // sat_train's experiment imports the js trainer statically, so the js backend's lazy
  // import of it cannot split it off: expected, not worth a warning on every build.
  checks: { ineffectiveDynamicImport: false },
  output: {
    dir: out,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    sourcemap: false,
    // Two files: the command modules (commander's parser and each command's options), which
    // a plain `satrnn reproduce <name> <args…>` never loads, and everything else (every
    // engine, experiment and formatter, ~290 kB that V8 parses lazily in a few ms), which
    // rolldown puts in the entry itself. Without the second group, automatic chunking makes
    // ~25 small chunks again.
    codeSplitting: { includeDependenciesRecursively: false, groups: [{ name: 'commands', test: COMMANDS, priority: 2 }, { name: 'lib', test: /[\\/]dist[\\/]/, priority: 1 }] },
  },
});
