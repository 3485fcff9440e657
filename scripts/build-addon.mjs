#!/usr/bin/env node
// Builds the native addon at install time. cmake-js first (the primary build), node-gyp
// as a second try; if neither works the package still installs and runs on the pure
// TypeScript backend, and we say so in one line. `--strict` (npm run build:addon) fails
// instead, and `--sanitize` builds an AddressSanitizer + UBSan variant into build-asan/.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const strict = args.has('--strict');
const sanitize = args.has('--sanitize');
const quiet = !args.has('--verbose') && !strict;
const require = createRequire(import.meta.url);

if (process.env.SATRNN_SKIP_ADDON === '1' && !strict) {
  console.warn('satrnn: SATRNN_SKIP_ADDON=1, not building the native addon; the js backend will be used.');
  process.exit(0);
}

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

function tryCmakeJs() {
  let bin;
  try {
    bin = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    return { ok: false, out: 'cmake-js is not installed' };
  }
  const out = sanitize ? 'build-asan' : 'build';
  const argv = [bin, 'compile', '--out', out, '--log-level', 'error'];
  if (sanitize) argv.push('--CDSATRNN_SANITIZE=ON', '--config', 'Debug');
  return run(process.execPath, argv);
}

function tryNodeGyp() {
  let bin;
  try {
    bin = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const npmGyp = path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
    if (!existsSync(npmGyp)) return { ok: false, out: 'node-gyp not found' };
    bin = npmGyp;
  }
  // Build against the headers of the running Node (never download them).
  const argv = [bin, 'rebuild'];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir || (existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? prefix : '');
  if (nodedir) argv.push(`--nodedir=${nodedir}`);
  return run(process.execPath, argv);
}

function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)}).info()`], { stdio: 'pipe' });
  return r.status === 0;
}

const target = path.join(root, sanitize ? 'build-asan' : 'build', 'Release', 'satrnn.node');
let result = tryCmakeJs();
if (!result.ok && !sanitize) {
  rmSync(path.join(root, 'build'), { recursive: true, force: true });
  const gyp = tryNodeGyp();
  if (gyp.ok) result = gyp;
  else result.out += `\n--- node-gyp ---\n${gyp.out}`;
}
const built = existsSync(target) || existsSync(path.join(root, sanitize ? 'build-asan' : 'build', 'Debug', 'satrnn.node'));
if (result.ok && built && (sanitize || loads(target))) {
  if (!quiet) console.log(`satrnn: native addon built (${path.relative(root, target)})`);
  process.exit(0);
}
if (strict || sanitize) {
  console.error(result.out.trim());
  console.error('satrnn: building the native addon failed (see above).');
  process.exit(1);
}
console.warn('satrnn: WARNING: the native addon could not be built (needs cmake or python3, a C++17 compiler and Node headers); using the pure TypeScript backend (exact, slower). Run `npm run build:addon` to see why.');
process.exit(0);
