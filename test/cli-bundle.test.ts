// The bundled CLI (scripts/bundle.mjs, dist/bundle/): the same answers as the compiled
// modules, two files in all, a plain `reproduce` loading only the entry, the package's own
// files (addon, default model) found from the bundle's folder, and bin/satrnn.js choosing
// the bundle only while it is newer than dist/.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addon, repoRoot, tmpFiles } from './helpers.js';
import { randomModel, randomText } from './models.js';

// Inside the package (dist/), as dist/bundle/ is: the bundle finds package.json by walking up.
const out = path.join(repoRoot, 'dist', `bundle-test-${process.pid}`);
const { file } = tmpFiles('satrnn-bundle-');
const model = file('m.bin', randomModel(128, 11).toBytes());
const data = file('d.txt', randomText(300, 12));

/** Runs `main(argv)` of a CLI entry module in a child process; `loads` lists the files it loaded from `watch` and the Node modules it imported. */
function run(entry: string, args: string[], watch?: string): { status: number | null; stdout: string; stderr: string; loads: string[] } {
  const runner = path.join(out, `run-${path.basename(entry)}.mjs`);
  const hook = path.join(out, 'hook.mjs');
  writeFileSync(
    hook,
    `export async function load(url, c, next) { if (url.startsWith(${JSON.stringify(`file://${watch ?? '\0'}`)}) || url.startsWith('node:')) process.stderr.write('LOADED ' + url + '\\n'); return next(url, c); }\n`,
  );
  writeFileSync(
    runner,
    `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hook}`)});\nconst { main } = await import(${JSON.stringify(`file://${entry}`)});\nprocess.exitCode = await main(process.argv);\n`,
  );
  const env = { ...process.env };
  delete env.SATRNN_ADDON; // the addon must be found from the bundle's own folder
  const r = spawnSync(process.execPath, [runner, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  const loads = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => (l.startsWith('LOADED node:') ? l.slice(7) : path.basename(l.slice(7))));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('LOADED ')).join('\n'), loads };
}

beforeAll(() => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'bundle.mjs'), '--out', out], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('CLI bundle', () => {
  it('has the entry, the shared core, the command modules and a chunk per program', () => {
    const files = readdirSync(out).filter((f) => f.endsWith('.js'));
    for (const name of ['core', 'commands', 'q3_neurons', 'q5_redux', 'sat_train']) expect(files.some((f) => f.startsWith(`${name}-`)), name).toBe(true);
    expect(files).toContain('cli.js');
  });

  it('plain reproduce: same bytes as the compiled modules, loading the entry, the core and its program only', () => {
    const bundled = run(path.join(out, 'cli.js'), ['reproduce', 'q3_neurons', data, model], out);
    const modules = run(path.join(repoRoot, 'dist', 'cli', 'main.js'), ['reproduce', 'q3_neurons', data, model]);
    expect(bundled.status, bundled.stderr).toBe(0);
    expect(modules.status, modules.stderr).toBe(0);
    expect(bundled.stdout).toBe(modules.stdout);
    expect(bundled.stdout).toMatch(/^=== Q3: Which Neurons Carry the Signal\? ===/);
    const files = bundled.loads.filter((f) => !f.startsWith('node:'));
    expect(files[0]).toBe('cli.js');
    expect(files.filter((f) => /^(core|q3_neurons)-/.test(f))).toHaveLength(2);
    // Nothing else but rolldown's small re-export facades (a few hundred bytes).
    for (const f of files.filter((f) => !/^(cli\.js|core-|q3_neurons-)/.test(f))) expect(statSync(path.join(out, f)).size, f).toBeLessThan(1000);
    // Node modules only some commands need (each costs milliseconds to load); the hook sees
    // Node's modules (node:fs is always there).
    expect(bundled.loads).toContain('node:fs');
    for (const m of ['node:crypto', 'node:worker_threads', 'node:fs/promises']) expect(bundled.loads).not.toContain(m);
  });

  it('a commander command loads the command chunk and works', () => {
    const args = ['knockout', '-m', model, '-d', data, '--json'];
    const bundled = run(path.join(out, 'cli.js'), args, out);
    const modules = run(path.join(repoRoot, 'dist', 'cli', 'main.js'), args);
    expect(bundled.status, bundled.stderr).toBe(0);
    const strip = (s: string) => JSON.stringify({ ...JSON.parse(s), provenance: undefined });
    expect(strip(bundled.stdout)).toBe(strip(modules.stdout));
    expect(bundled.loads.some((f) => f.startsWith('commands-'))).toBe(true);
  });

  it.skipIf(!addon)('finds the package files from its folder: the built addon and the default model', () => {
    const r = run(path.join(out, 'cli.js'), ['info']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^nativeAddon\s+loaded$/m);
    expect(r.stdout).toMatch(new RegExp(`^addonFile\\s+${path.join(repoRoot, 'build').replace(/[/\\]/g, '.')}`, 'm'));
    const k = run(path.join(out, 'cli.js'), ['knockout', '--top', '1']);
    expect(k.status, k.stderr).toBe(0);
    expect(k.stdout).toMatch(/^model_file embedded default model: hidden 128, predictions 3661,/);
  });

  it('bin/satrnn.js uses dist/bundle only while it is not older than dist/cli/main.js', () => {
    const bin = path.join(repoRoot, 'bin', 'satrnn.js');
    const bundle = path.join(repoRoot, 'dist', 'bundle', 'cli.js');
    const main = path.join(repoRoot, 'dist', 'cli', 'main.js');
    const hookRun = (): string[] => {
      const hook = path.join(out, 'bin-hook.mjs');
      writeFileSync(hook, `export async function load(url, c, next) { if (url.includes('/dist/')) process.stderr.write('LOADED ' + url + '\\n'); return next(url, c); }\n`);
      const reg = path.join(out, 'bin-reg.mjs');
      writeFileSync(reg, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hook}`)});\n`);
      const r = spawnSync(process.execPath, ['--import', reg, bin, '--version'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => path.relative(repoRoot, new URL(l.slice(7)).pathname));
    };
    const saved = { bundle: statSync(bundle, { throwIfNoEntry: false }), main: statSync(main) };
    if (!saved.bundle) throw new Error('dist/bundle/cli.js is missing: npm test builds it (pretest); run `npm run build`');
    try {
      // Fresh (as after `npm run build`): the bundle.
      utimesSync(bundle, saved.main.atime, new Date(saved.main.mtimeMs + 1000));
      expect(hookRun()[0]).toBe(path.join('dist', 'bundle', 'cli.js'));
      // Stale (a `tsc` after the last bundle): the compiled modules.
      utimesSync(bundle, saved.main.atime, new Date(saved.main.mtimeMs - 1000));
      expect(hookRun()[0]).toBe(path.join('dist', 'cli', 'main.js'));
    } finally {
      utimesSync(bundle, saved.bundle.atime, saved.bundle.mtime);
    }
  });
});
