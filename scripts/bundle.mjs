#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js and everything it imports) into dist/bundle/ as
// CommonJS, so that `satrnn` starts by requiring a few files instead of importing ~30 ES
// modules: Node's ES module loader costs ~1 ms per module here, and importing the bundle
// took ~48 ms before, ~15 ms after (of a ~0.2 s `satrnn reproduce q3_neurons`).
// Modules loaded on demand (commander's program, each program's code, the js backend's
// worker pool) stay separate chunks, loaded only when a command needs them.
// bin/satrnn.js requires the bundle only when it is newer than dist/cli/main.js, which every
// full `tsc` run rewrites (npm run build, prepare, pretest, prepack; not an incremental or
// watch build that leaves main.js alone): a forgotten re-bundle is then slower, not wrong.
// Run by `npm run build` (and prepare, prepack, pretest) after tsc.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// --out DIR: another folder (tests bundle into a scratch folder inside the package).
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, 'dist', 'bundle');

// The modules of the full command parser (commander): lib/cli/program.ts, the shared command
// helpers, and each command's registration (lib/cli/*.ts commands, lib/programs/*/cli.ts).
const COMMANDS = /[\\/]dist[\\/](cli[\\/](program|common|model-runs|info|knockout|reproduce|train)|programs[\\/][^\\/]+[\\/]cli)\.js$/;

// The old bundle goes first: if this one cannot be made, no bundle is better than a stale one
// (bin/satrnn.js then imports dist/ directly; npm pack sets every file's time alike, so a
// stale bundle in a tarball would look fresh).
rmSync(out, { recursive: true, force: true });
let rolldown;
try {
  rolldown = await import('rolldown');
} catch (err) {
  // Not installed (an install without dev dependencies), or its native binding is missing.
  process.stderr.write(`satrnn: no CLI bundle (rolldown: ${err?.message ?? err}); the CLI runs unbundled (slower start)\n`);
  process.exit(0);
}

// The modules a `reproduce` needs whatever the program: the input checks, the Analysis and
// the engines (the static imports of lib/programs/original-io.ts, followed), and the helpers
// outside lib/programs/ that two or more programs import (formatting, sorting, the version…).
const dist = path.join(root, 'dist');
const importsOf = (file) =>
  // tsc's output: value imports only (type imports are erased), relative paths with .js.
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gms)].map((m) => path.resolve(path.dirname(file), m[1]));
function staticClosure(files) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    importsOf(file).forEach(visit);
  };
  files.forEach(visit);
  return seen;
}
const programOf = (id) => /[\\/]dist[\\/]programs[\\/]([^\\/]+)[\\/]/.exec(id)?.[1] ?? null;
const usedBy = new Map();
for (const dir of readdirSync(path.join(dist, 'programs'), { withFileTypes: true }).filter((d) => d.isDirectory()))
  for (const f of readdirSync(path.join(dist, 'programs', dir.name)).filter((f) => f.endsWith('.js')))
    for (const dep of importsOf(path.join(dist, 'programs', dir.name, f)))
      if (!programOf(dep)) usedBy.set(dep, (usedBy.get(dep) ?? new Set()).add(dir.name));
// A program's chunk also takes the helpers outside lib/programs/ that only it imports (a
// chunk of their own would be one more file, or, in CommonJS, a require cycle).
const chunkOf = (id) => programOf(id) ?? (usedBy.get(id)?.size === 1 ? [...usedBy.get(id)][0] : null);
const CORE = staticClosure([
  ...['programs/original-io.js', 'programs/batch.js'].map((f) => path.join(dist, f)),
  ...[...usedBy].filter(([, programs]) => programs.size >= 2).map(([dep]) => dep),
]);

await rolldown.build({
  input: { cli: path.join(dist, 'cli', 'main.js') },
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
    // CommonJS: bin/satrnn.js requires it, so a plain run never starts the ES module loader
    // (and Node's modules need no ES module facades): ~12 ms less per run than ES modules.
    format: 'cjs',
    entryFileNames: '[name].cjs',
    chunkFileNames: '[name]-[hash].cjs',
    sourcemap: false,
    // ASCII only, no comments: V8 keeps an ASCII source as a one-byte string (a single
    // non-ASCII character in a comment or message makes the whole file two bytes per
    // character: ~150 more pages to fault in, and slower scanning).
    charset: 'ascii',
    comments: false,
    // A plain `satrnn reproduce <name> <args…>` loads the entry (the CLI's main with the
    // shared core) and that program's chunk; the command modules (commander's parser and
    // each command's options) and what only some runs need (the js backend's kernels and
    // workers, the trainer: their Node modules, worker_threads and crypto among them, cost
    // ~15 ms to load) stay in chunks of their own. Without groups, automatic chunking makes
    // ~25 small chunks, each one more file to load.
    codeSplitting: {
      includeDependenciesRecursively: false,
      groups: [
        { name: 'commands', test: COMMANDS, priority: 3 },
        { name: 'core', test: (id) => CORE.has(id), priority: 2 },
        { name: chunkOf, debugName: 'program', priority: 1 },
      ],
    },
  },
});

// bin/bundle-loader.cjs compiles the chunks with node:vm, whose scripts cannot import():
// a built-in module is loaded with process.getBuiltinModule in lib/ instead.
for (const f of readdirSync(out).filter((f) => f.endsWith('.cjs'))) {
  if (/\bimport\(/.test(readFileSync(path.join(out, f), 'utf8'))) {
    rmSync(out, { recursive: true, force: true });
    process.stderr.write(`satrnn: bundle chunk ${f} calls import(); use process.getBuiltinModule (node:*) or a static import\n`);
    process.exit(1);
  }
}

// V8 code caches of the chunks (scripts/code-cache.cjs): without them the CLI compiles the
// chunks at every start (~12 ms more), so a failure here is a warning.
const cc = spawnSync(process.execPath, [path.join(root, 'scripts', 'code-cache.cjs'), out], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (cc.status !== 0) {
  for (const f of readdirSync(out).filter((f) => f.endsWith('.v8cache'))) rmSync(path.join(out, f));
  process.stderr.write(`satrnn: warning: the CLI bundle has no code caches (${(cc.error?.message ?? cc.stderr ?? '').trim() || `exit ${cc.status}`}); it starts ~12 ms slower\n`);
}
