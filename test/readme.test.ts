// README's TypeScript examples are part of the product: each ```ts block is compiled as a
// strict TypeScript module against the built package (imports of 'satrnn' resolve to this
// package itself) and then run on a small model and text, so an example that stops
// compiling or throws fails here.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { saveModel } from '../lib/model.js';
import { repoRoot } from './helpers.js';
import { randomModel, randomText } from './models.js';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

describe("README's TypeScript examples", () => {
  it('README has TypeScript examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
  });

  // Inside the package folder, so that `import ... from 'satrnn'` is a self-reference.
  const dir = path.join(repoRoot, '.readme-check');
  const files = blocks.map((_, i) => path.join(dir, `example${i + 1}.ts`));

  it('compile under strict TypeScript', () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    blocks.forEach((code, i) => writeFileSync(files[i]!, code));
    const program = ts.createProgram(files, {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      skipLibCheck: true,
      rootDir: dir,
      outDir: dir,
    });
    const diags = [...ts.getPreEmitDiagnostics(program), ...program.emit().diagnostics];
    const text = diags.map((d) => {
      const where = d.file && d.start !== undefined ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
    });
    expect(text).toEqual([]);
  }, 120_000);

  it('run on a small model and text', () => {
    // The examples name model.bin, text.txt and other.txt: a random H = 16 model and 400 bytes of text each.
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'satrnn-readme-'));
    saveModel(randomModel(16, 77), path.join(cwd, 'model.bin'));
    writeFileSync(path.join(cwd, 'text.txt'), randomText(400, 5));
    writeFileSync(path.join(cwd, 'other.txt'), randomText(400, 6));
    try {
      files.forEach((f, i) => {
        const r = spawnSync(process.execPath, [f.replace(/\.ts$/, '.js')], { cwd, encoding: 'utf8', env: { ...process.env, SATRNN_THREADS: '2' } });
        expect(r.stderr.includes('Error') ? r.stderr : '', `example ${i + 1}`).toBe('');
        expect(r.status, `example ${i + 1}: ${r.stderr}`).toBe(0);
        expect(r.stdout.length, `example ${i + 1} printed nothing`).toBeGreaterThan(0);
      });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 120_000);
});
