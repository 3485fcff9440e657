// The bundled CLI (scripts/bundle.mjs, dist/bundle/, CommonJS): the same answers as the
// compiled ES modules, a plain `reproduce` loading the entry, the shared core and its
// program's chunk only (and none of the Node modules only some commands need), the
// package's own files (addon, default model) found from the bundle's folder, and
// bin/satrnn.js choosing the bundle only while it is newer than dist/.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addon, repoRoot, tmpFiles } from './helpers.js';
import { randomModel, randomText } from './models.js';

// Inside the package, as dist/bundle/ is (the bundle finds package.json by walking up), in
// tmp/ (ignored by git and not packed by npm, should a run be interrupted).
const out = path.join(repoRoot, 'tmp', `bundle-test-${process.pid}`);
const { file } = tmpFiles('satrnn-bundle-');
const model = file('m.bin', randomModel(128, 11).toBytes());
const data = file('d.txt', randomText(300, 12));

// At exit, a child reports the CommonJS files it required from `watch` and the Node modules
// it loaded (process.moduleLoadList: 'NativeModule crypto', …).
const reporter = path.join(out, 'report.cjs');
// (bin/bundle-loader.cjs compiles the bundle's chunks itself: it lists them, and how many came
// from a code cache, under a global symbol.)
const reporterSource = `process.on('exit', () => {
  const loader = globalThis[Symbol.for('satrnn.bundleLoader')];
  const files = [...Object.keys(require.cache), ...(loader ? loader.files : [])].filter((f) => f.startsWith(process.env.WATCH_DIR + '/') && !f.includes('/node_modules/')).map((f) => require('node:path').basename(f));
  const builtins = Array.isArray(process.moduleLoadList) ? process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => 'node:' + m.slice(13)) : null;
  process.stderr.write('\\nLOADED ' + JSON.stringify({ files, builtins, fromCache: loader ? loader.fromCache : [] }) + '\\n');
});
`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  files: string[];
  builtins: string[] | null;
  /** The bundle chunks compiled from a code cache. */
  fromCache: string[];
}

/**
 * Runs `main(argv)` of a CLI entry (a bundle's cli.cjs, loaded as bin/satrnn.js loads it, or
 * an ES module) in a child process.
 */
function run(entry: string, args: string[], extraNodeArgs: string[] = []): Run {
  const runner = path.join(out, `run-${path.basename(entry)}.cjs`);
  const loader = path.join(repoRoot, 'bin', 'bundle-loader.cjs');
  const load = entry.endsWith('.cjs')
    ? `Promise.resolve(require(${JSON.stringify(loader)}).loadBundle(${JSON.stringify(path.dirname(entry))}).cli)`
    : `import(${JSON.stringify(entry)})`;
  writeFileSync(runner, `${load}.then(({ main }) => main(process.argv)).then((c) => { process.exitCode = c; });\n`);
  return spawnRun([...extraNodeArgs, runner, ...args]);
}

function spawnRun(nodeArgs: string[]): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, WATCH_DIR: repoRoot };
  delete env.SATRNN_ADDON; // the addon must be found from the bundle's own folder
  const r = spawnSync(process.execPath, ['--require', reporter, ...nodeArgs], { encoding: 'utf8', env, timeout: 120_000 });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  const report = line ? (JSON.parse(line.slice(7)) as { files: string[]; builtins: string[] | null; fromCache: string[] }) : { files: [], builtins: null, fromCache: [] };
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('LOADED ')).join('\n').trim(), ...report };
}

/** The bundle chunks a run loaded (not the test's own scripts, nor the loader), sorted. */
const chunksOf = (r: Run): string[] => r.files.filter((f) => !f.startsWith('run-') && f !== 'report.cjs' && f !== 'bundle-loader.cjs').sort();

beforeAll(() => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'bundle.mjs'), '--out', out], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  writeFileSync(reporter, reporterSource);
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('CLI bundle', () => {
  it('has the entry, the shared core, the command modules and a chunk per program', () => {
    const files = readdirSync(out).filter((f) => f.endsWith('.cjs') && !f.startsWith('run-') && f !== 'report.cjs');
    for (const name of ['core', 'commands', 'q3_neurons', 'q5_redux', 'sat_train']) expect(files.some((f) => f.startsWith(`${name}-`)), name).toBe(true);
    expect(files).toContain('cli.cjs');
  });

  it('plain reproduce: same bytes as the compiled modules, loading the entry, the core and its program only', () => {
    const bundled = run(path.join(out, 'cli.cjs'), ['reproduce', 'q3_neurons', data, model]);
    const modules = run(path.join(repoRoot, 'dist', 'cli', 'main.js'), ['reproduce', 'q3_neurons', data, model]);
    expect(bundled.status, bundled.stderr).toBe(0);
    expect(modules.status, modules.stderr).toBe(0);
    expect(bundled.stdout).toBe(modules.stdout);
    expect(bundled.stdout).toMatch(/^=== Q3: Which Neurons Carry the Signal\? ===/);
    const files = chunksOf(bundled);
    expect(files).toHaveLength(4);
    expect(files[0]).toBe('cli.cjs');
    expect(files[1]).toMatch(/^core-/);
    expect(files[2]).toMatch(/^q3_neurons-/);
    expect(files[3]).toMatch(/^rolldown-runtime-/); // rolldown's CommonJS interop helpers
    // Node modules only some commands need (each costs milliseconds to load); the report
    // sees Node's modules (node:fs is always there).
    expect(bundled.builtins).toContain('node:fs');
    for (const m of ['node:crypto', 'node:worker_threads', 'node:fs/promises']) expect(bundled.builtins).not.toContain(m);
  });

  it('a commander command loads the command chunk and works', () => {
    const args = ['knockout', '-m', model, '-d', data, '--json'];
    const bundled = run(path.join(out, 'cli.cjs'), args);
    const modules = run(path.join(repoRoot, 'dist', 'cli', 'main.js'), args);
    expect(bundled.status, bundled.stderr).toBe(0);
    const strip = (s: string) => JSON.stringify({ ...JSON.parse(s), provenance: undefined });
    expect(strip(bundled.stdout)).toBe(strip(modules.stdout));
    expect(bundled.files.some((f) => f.startsWith('commands-'))).toBe(true);
  });

  it.skipIf(!addon)('finds the package files from its folder: the built addon and the default model', () => {
    const r = run(path.join(out, 'cli.cjs'), ['info']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^nativeAddon\s+loaded$/m);
    expect(r.stdout).toMatch(new RegExp(`^addonFile\\s+${path.join(repoRoot, 'build').replace(/[/\\]/g, '.')}`, 'm'));
    const k = run(path.join(out, 'cli.cjs'), ['knockout', '--top', '1']);
    expect(k.status, k.stderr).toBe(0);
    expect(k.stdout).toMatch(/^model_file embedded default model: hidden 128, predictions 3661,/);
  });

  // (While this runs, other test files that start bin/satrnn.js may get the ES modules for a
  // moment: the same answers, a little slower.)
  it('bin/satrnn.js requires dist/bundle only while it is not older than dist/cli/main.js', () => {
    const bin = path.join(repoRoot, 'bin', 'satrnn.js');
    const bundle = path.join(repoRoot, 'dist', 'bundle', 'cli.cjs');
    const main = path.join(repoRoot, 'dist', 'cli', 'main.js');
    const saved = { bundle: statSync(bundle, { throwIfNoEntry: false }), main: statSync(main) };
    if (!saved.bundle) throw new Error('dist/bundle/cli.cjs is missing: npm test builds it (pretest); run `npm run build`');
    try {
      // Fresh (as after `npm run build`): the bundle.
      utimesSync(bundle, saved.main.atime, new Date(saved.main.mtimeMs + 1000));
      const fresh = spawnRun([bin, '--version']);
      expect(fresh.status, fresh.stderr).toBe(0);
      expect(fresh.files).toContain('cli.cjs');
      // Stale (a `tsc` after the last bundle): the compiled ES modules, and the same answer.
      utimesSync(bundle, saved.main.atime, new Date(saved.main.mtimeMs - 1000));
      const stale = spawnRun([bin, '--version']);
      expect(stale.status, stale.stderr).toBe(0);
      expect(stale.files).not.toContain('cli.cjs');
      expect(stale.stdout).toBe(fresh.stdout);
    } finally {
      utimesSync(bundle, saved.bundle.atime, saved.bundle.mtime);
    }
  });

  it('code caches: a run compiles every chunk it loads from a cache made of that chunk', () => {
    const caches = readdirSync(out).filter((f) => f.endsWith('.cjs.v8cache')).map((f) => f.slice(0, -'.v8cache'.length));
    for (const name of ['cli.cjs', 'core-', 'q3_neurons-', 'q5_redux-', 'commands-']) expect(caches.some((f) => f.startsWith(name)), name).toBe(true);
    const r = run(path.join(out, 'cli.cjs'), ['reproduce', 'q3_neurons', data, model]);
    expect(r.status, r.stderr).toBe(0);
    const chunks = chunksOf(r);
    expect(chunks).toHaveLength(4);
    expect(r.fromCache.map((f) => path.basename(f)).sort()).toEqual(chunks);
  });

  it('code caches: a chunk changed in place (same length) compiles from its own source, not the cache', () => {
    // V8 checks only a source's length against its cache: the stale cache would run the old
    // bytecode (and print the old heading), so the loader compares the bytes first.
    const copy = path.join(out, 'edited');
    mkdirSync(copy);
    for (const f of readdirSync(out)) if (f.endsWith('.cjs') || f.endsWith('.v8cache')) copyFileSync(path.join(out, f), path.join(copy, f));
    const q3 = readdirSync(copy).find((f) => /^q3_neurons-.*\.cjs$/.test(f))!;
    const source = readFileSync(path.join(copy, q3), 'utf8');
    expect(source).toContain('Which Neurons Carry');
    writeFileSync(path.join(copy, q3), source.replace('Which Neurons Carry', 'WHICH NEURONS CARRY'));
    const r = run(path.join(copy, 'cli.cjs'), ['reproduce', 'q3_neurons', data, model]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^=== Q3: WHICH NEURONS CARRY the Signal\? ===/);
    expect(r.fromCache.map((f) => path.basename(f))).not.toContain(q3);
    expect(r.fromCache.length).toBe(3); // the others still do
  });

  it('bin/satrnn.js falls back to the ES modules when the bundle fails to load', () => {
    // A package whose dist/ holds the real compiled modules and a bundle that throws.
    const pkg = path.join(out, 'pkg');
    mkdirSync(path.join(pkg, 'bin'), { recursive: true });
    mkdirSync(path.join(pkg, 'dist', 'bundle'), { recursive: true });
    for (const f of ['satrnn.js', 'bundle-loader.cjs', 'package.json']) copyFileSync(path.join(repoRoot, 'bin', f), path.join(pkg, 'bin', f));
    copyFileSync(path.join(repoRoot, 'package.json'), path.join(pkg, 'package.json'));
    for (const f of readdirSync(path.join(repoRoot, 'dist'))) if (f !== 'bundle') symlinkSync(path.join(repoRoot, 'dist', f), path.join(pkg, 'dist', f));
    writeFileSync(path.join(pkg, 'dist', 'bundle', 'cli.cjs'), "throw new Error('a broken bundle');\n");
    const r = spawnSync(process.execPath, [path.join(pkg, 'bin', 'satrnn.js'), '--version'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.stderr).toBe('');
  });
});
