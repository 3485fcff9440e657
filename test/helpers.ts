import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../lib/engine/native.js';
import { forwardStates, readoutStates, type ReadoutResult } from '../lib/engine/primitives.js';
import { selectBackend } from '../lib/engine/index.js';
import type { Backend, ReadoutMethod, RunOptions } from '../lib/engine/types.js';
import { expect } from 'vitest';
import { SatrnnError } from '../lib/errors.js';
import type { Model } from '../lib/model.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const hasShared = existsSync(path.join(sharedDir, 'reference', 'sat_model.bin'));
const inCi = process.env.CI === 'true';

if (!hasShared) {
  const msg = `\n!!! ../shared not found beside the checkout (${sharedDir}): golden/reference tests are SKIPPED !!!\n`;
  if (inCi) throw new Error(`${msg}CI=true requires ../shared`);
  console.warn(msg);
}

export const refModelPath = path.join(sharedDir, 'reference', 'sat_model.bin');
export const refDataPath = path.join(sharedDir, 'reference', 'enwik_1024.txt');
export function golden(name: string): string {
  return readFileSync(path.join(sharedDir, 'golden', 'reference', name), 'utf8');
}

/** The native addon, or null; under CI a missing addon is an error, not a skip. */
export const addon = loadAddon();
if (!addon) {
  const msg = '\n!!! native addon not built: native-backend tests are SKIPPED (run `npm run build:addon`) !!!\n';
  if (inCi) throw new Error(`${msg}CI=true requires the native addon`);
  console.warn(msg);
}
if (process.env.SATRNN_EXPECT_SANITIZED === '1' && addon?.info().sanitized !== true)
  throw new Error('SATRNN_EXPECT_SANITIZED=1 but the loaded addon is not a sanitizer build (check SATRNN_ADDON)');
/**
 * The minutes-long exhaustive checks (2^32 inputs) run only in `npm run test:full`
 * (SATRNN_FULL=1), which CI runs; `npm test` skips them and says so.
 */
export const skipExhaustive = process.env.SATRNN_FULL !== '1';
export const hasAvx2 = addon?.info().avx2 === true;
if (addon && !hasAvx2) console.warn('\n!!! this CPU has no AVX2: avx2 tests are SKIPPED !!!\n');
export const hasAvx512 = addon?.info().avx512 === true;
if (addon && !hasAvx512) console.warn('\n!!! this CPU (or OS, or build) has no AVX-512: avx512 tests are SKIPPED !!!\n');

/**
 * The code paths every exact result must agree on (native AVX2, AVX-512, SSE2 and portable
 * loops; TypeScript). native-avx2 stays first: some tests use PATHS[0] as "the AVX2 path".
 */
export const PATHS = [
  { label: 'native-avx2', backend: 'native', isa: 'avx2', enabled: hasAvx2 },
  { label: 'native-avx512', backend: 'native', isa: 'avx512', enabled: hasAvx512 },
  { label: 'native-sse2', backend: 'native', isa: 'sse2', enabled: addon?.info().sse2 === true },
  { label: 'native-scalar', backend: 'native', isa: 'scalar', enabled: addon !== null },
  { label: 'js', backend: 'js', isa: undefined, enabled: true },
] as const;

/** Deterministic PRNG for test inputs (xorshift32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** The states of a forward pass (whole arrays; the engine's forwardStates). */
export function forward(be: Backend, model: Model, bytes: Uint8Array, h0?: Float32Array): Promise<{ states: Float32Array }> {
  return forwardStates(be, model, bytes, h0 ? { h0 } : {});
}

/** USE codes from keep (1 = term kept) and snap (1 = read as sign) masks. */
export function useOf(keep: Uint8Array, snap?: Uint8Array): Uint8Array {
  return keep.map((k, i) => (k === 0 ? 0 : snap && snap[i] !== 0 ? 2 : 1));
}

/** The readout of given states for keep/snap masks (the engine's readoutStates). */
export function readout(
  be: Backend,
  req: { model: Model; states: Float32Array; targets: Uint8Array; keep: Uint8Array; snap?: Uint8Array; bits?: boolean; method?: ReadoutMethod },
  opts: RunOptions = {},
): Promise<ReadoutResult> {
  const { keep, snap, ...rest } = req;
  return readoutStates(be, { ...rest, use: useOf(keep, snap) }, opts);
}

/**
 * Runs `study` on every enabled path (2 threads) and expects the same typed result (numbers
 * compared exactly, -0 included) and the same formatted text everywhere.
 */
export async function expectSameOnEveryPath<R>(study: (backend: Backend) => Promise<R>, format: (r: R) => string): Promise<void> {
  let ref: string | undefined;
  let refText: string | undefined;
  for (const p of PATHS.filter((x) => x.enabled)) {
    const r = await study(selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads: 2 }));
    const json = JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && Object.is(v, -0) ? '-0' : v));
    ref ??= json;
    expect(json, p.label).toBe(ref);
    const text = format(r);
    refText ??= text;
    expect(text, p.label).toBe(refText);
  }
}

/** A fresh temporary folder, and a function that writes a file into it and returns its path. */
export function tmpFiles(prefix: string): { dir: string; file: (name: string, bytes: Uint8Array | string) => string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    file: (name, bytes) => {
      const p = path.join(dir, name);
      writeFileSync(p, bytes);
      return p;
    },
  };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `satrnn <args>` (bin/satrnn.js) in a child process; `env` adds to this process's environment. */
export function cliWithEnv(env: Record<string, string>, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'satrnn.js'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `satrnn <args>` (bin/satrnn.js) in a child process. */
export function cli(...args: string[]): CliResult {
  return cliWithEnv({}, ...args);
}

/** A clean CLI failure: the given exit status, a short message naming the problem, no stack trace. */
export function expectCleanFailure(r: CliResult, status: number, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(status);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
}

/** Runs fn, which must throw a SatrnnError with this code. */
export function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SatrnnError);
    expect((err as SatrnnError).code).toBe(code);
    return;
  }
  throw new Error('expected a SatrnnError');
}
