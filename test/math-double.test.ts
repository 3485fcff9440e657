/**
 * lib/math/float64.ts (ports of glibc 2.36 exp, log2, log; non-fma build) against
 * the spec's sample pairs (00-common 7b) and against the system libm, bit for bit,
 * on >= 1e6 inputs per function. The C reference runs with the fma variants
 * disabled, which is the target (the fma variants differ in ~0.07 % of exp results).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { exp, log, log2 } from '../lib/math/float64.js';
import { inCI } from './native/cc.js';

const TUNABLES = 'glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F';

// ---- raw bits <-> double (test-only helpers) ----

const scratch = new DataView(new ArrayBuffer(8));
function fromBits(hex: string): number {
  const h = hex.padStart(16, '0');
  scratch.setUint32(0, parseInt(h.slice(0, 8), 16));
  scratch.setUint32(4, parseInt(h.slice(8), 16));
  return scratch.getFloat64(0);
}
function toBits(x: number): string {
  scratch.setFloat64(0, x);
  return (
    scratch.getUint32(0).toString(16).padStart(8, '0') + scratch.getUint32(4).toString(16).padStart(8, '0')
  );
}
function same(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

// ---- spec 00-common 7b sample pairs: x -> exp(x), log2(|x|) ----

const SAMPLES: Array<[string, string, string]> = [
  ['bfe0000000000000', '3fe368b2fc6f960a', 'bff0000000000000'], // -0x1p-1
  ['c00d99999999999a', '3f99511fc6871044', '3ffe334db2c356b0'], // -0x1.d99999999999ap+1
  ['c031400000000000', '3e614f49dbc5078c', '40106f210902b6af'], // -0x1.14p+4
  ['c046800000000000', '3be0e5b73d1ff53d', '4015f7a8568cb06d'], // -0x1.68p+5
  ['3fd3333333333333', '3ff599058c8c1a96', 'bffbca9c6f53897b'], // 0x1.3333333333333p-2
  ['3ee4f8b588e368f1', '3ff0000a7c5e340e', 'c0309c1165ec0627'], // 0x1.4f8b588e368f1p-17
];

describe('float64 exp/log2/log: spec sample pairs', () => {
  it.each(SAMPLES)('x = %s', (xb, eb, l2b) => {
    const x = fromBits(xb);
    expect(toBits(exp(x))).toBe(eb);
    expect(toBits(log2(Math.abs(x)))).toBe(l2b);
  });

  it('special values', () => {
    expect(exp(0)).toBe(1);
    expect(exp(-0)).toBe(1);
    expect(exp(Infinity)).toBe(Infinity);
    expect(exp(-Infinity)).toBe(0);
    expect(Object.is(exp(-Infinity), 0)).toBe(true);
    expect(exp(NaN)).toBeNaN();
    expect(exp(1000)).toBe(Infinity);
    expect(Object.is(exp(-1000), 0)).toBe(true);
    for (const f of [log2, log]) {
      expect(f(0)).toBe(-Infinity);
      expect(f(-0)).toBe(-Infinity);
      expect(Object.is(f(1), 0)).toBe(true);
      expect(f(Infinity)).toBe(Infinity);
      expect(f(-Infinity)).toBeNaN();
      expect(f(-1)).toBeNaN();
      expect(f(NaN)).toBeNaN();
    }
    expect(log2(5e-324)).toBe(-1074);
    expect(log2(fromBits('7fe0000000000000'))).toBe(1023);
  });
});

// ---- inputs (deterministic) ----

/** sfc32: small 32-bit PRNG, no BigInt. */
function rng(seed: number): () => number {
  let a = 0x9e3779b9,
    b = 0x243f6a88,
    c = 0xb7e15162,
    d = seed >>> 0;
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
}

class Inputs {
  readonly x: Float64Array;
  private readonly w: Uint32Array;
  private n = 0;
  private readonly lo: number;
  constructor(capacity: number) {
    this.x = new Float64Array(capacity);
    this.w = new Uint32Array(this.x.buffer);
    this.lo = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
  }
  push(v: number): void {
    this.x[this.n++] = v;
  }
  pushBits(hi: number, lo: number): void {
    this.w[2 * this.n + this.lo] = lo >>> 0;
    this.w[2 * this.n + 1 - this.lo] = hi >>> 0;
    this.n++;
  }
  get length(): number {
    return this.n;
  }
  view(): Float64Array {
    return this.x.subarray(0, this.n);
  }
}

const SPECIALS: number[] = [
  0, -0, Infinity, -Infinity, NaN, 5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308,
  1.7976931348623157e308, -1.7976931348623157e308, 1, -1, 0.5, 2, 709.782712893384, 709.7827128933841,
  -745.1332191019411, -745.1332191019412, -708.3964185322641, 512, -512, 1024, -1024, 2 ** -54, -(2 ** -54),
  1 - 0x15b51 / 2 ** 21, 1 + 0x16ab2 / 2 ** 21, 0.9375, 1.064697265625, 0.6875, 1.375,
];

function addSpecials(inp: Inputs): void {
  for (const s of SPECIALS) inp.push(s);
  // NaN payloads and signs, as raw bits
  inp.pushBits(0x7ff00000, 1);
  inp.pushBits(0xfff80000, 0);
  inp.pushBits(0x7ffc0000, 0xdeadbeef);
  // all powers of two, both signs
  for (let e = -1074; e <= 1023; e++) {
    inp.push(2 ** e);
    inp.push(-(2 ** e));
  }
  // neighbours (+-8 ulp) of each special
  const f = new Float64Array(1);
  const u = new Uint32Array(f.buffer);
  for (const s of SPECIALS) {
    if (!Number.isFinite(s) || s === 0) continue;
    for (let d = -8; d <= 8; d++) {
      f[0] = s;
      const lo = u[0]! + d; // little-endian is enough here: Node on x64/arm64
      inp.pushBits(u[1]! + Math.floor(lo / 2 ** 32), lo);
    }
  }
}

function uniform(rand: () => number, a: number, b: number): number {
  const u = ((rand() >>> 11) * 4294967296 + rand()) / 2 ** 53; // 53 random bits in [0, 1)
  return a + (b - a) * u;
}
function randomBits(inp: Inputs, rand: () => number, count: number, positive = false): void {
  for (let i = 0; i < count; i++) {
    const hi = rand();
    inp.pushBits(positive ? hi & 0x7fffffff : hi, rand());
  }
}

function expInputs(): Float64Array {
  const r = rng(1);
  const inp = new Inputs(1_100_000);
  addSpecials(inp);
  randomBits(inp, r, 250_000);
  for (let i = 0; i < 250_000; i++) inp.push(uniform(r, -50, 0));
  for (let i = 0; i < 250_000; i++) inp.push(uniform(r, -750, 710));
  for (let i = 0; i < 150_000; i++) {
    const v = 2 ** (uniform(r, -60, 11) | 0) * uniform(r, 1, 2); // exact scaling
    inp.push(r() & 1 ? v : -v);
  }
  for (let i = 0; i < 100_000; i++) {
    const c = r() & 3;
    inp.push(
      c === 0 ? uniform(r, 512, 1024) : c === 1 ? uniform(r, -1024, -512) : c === 2 ? uniform(r, -746, -700) : uniform(r, 700, 710),
    );
  }
  return inp.view();
}

function logInputs(seed: number): Float64Array {
  const r = rng(seed);
  const inp = new Inputs(1_100_000);
  addSpecials(inp);
  randomBits(inp, r, 200_000);
  randomBits(inp, r, 200_000, true); // every positive double, log-uniform (includes Inf/NaN bits)
  const l0 = Math.log(1e-30);
  for (let i = 0; i < 250_000; i++) {
    const v = Math.exp(l0 * uniform(r, 0, 1)); // log-uniform in (1e-30, 1]; the exact law does not matter
    inp.push(v > 1e-30 ? v : 1);
  }
  for (let i = 0; i < 200_000; i++) inp.push(uniform(r, 0.9, 1.1)); // near-1 polynomial paths
  for (let i = 0; i < 100_000; i++) inp.pushBits(r() & 0xfffff, r()); // subnormals (and +0)
  for (let i = 0; i < 50_000; i++) inp.push(uniform(r, 1e300, 1.7976931348623157e308));
  return inp.view();
}

// ---- C reference ----

interface Ref {
  run: (fn: string, x: Float64Array) => Float64Array;
  cleanup: () => void;
}

let noCompiler = false;

function buildRef(): Ref | null {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'satrnn-double-'));
  const bin = join(dir, 'double_ref');
  const candidates = process.env['CXX'] ? [process.env['CXX']] : ['c++', 'g++', 'clang++'];
  let built = false;
  const errors: string[] = [];
  for (const cxx of candidates) {
    try {
      execFileSync(cxx, ['-O2', '-o', bin, join(here, 'native', 'double_ref.cc'), '-lm'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      built = true;
      break;
    } catch (err) {
      errors.push(`${cxx}: ${String(err)}`);
    }
  }
  if (!built) {
    noCompiler = true;
    rmSync(dir, { recursive: true, force: true });
    console.warn(
      `\n!!! WARNING: cannot compile test/native/double_ref.cc (${errors.join('; ')}); ` +
        'exp/log2/log libm comparison is SKIPPED !!!\n',
    );
    return null;
  }
  // The ports reproduce glibc's algorithms (unchanged since glibc 2.28); another
  // C library (macOS, musl) has different exp/log, so there is nothing to compare.
  const version = spawnSync(bin, ['version']).stdout?.toString().trim() ?? '';
  if (!/^2\.\d+/.test(version) || Number(version.split('.')[1]) < 28) {
    rmSync(dir, { recursive: true, force: true });
    console.warn(`\n!!! WARNING: system C library is not glibc >= 2.28 (${version || 'unknown'}); libm comparison is SKIPPED !!!\n`);
    return null;
  }
  return {
    run(fn, x) {
      const res = spawnSync(bin, [fn], {
        input: new Uint8Array(x.buffer, x.byteOffset, x.byteLength),
        env: { ...process.env, GLIBC_TUNABLES: TUNABLES },
        maxBuffer: x.byteLength + 1024,
      });
      if (res.status !== 0) throw new Error(`double_ref ${fn} failed: ${String(res.stderr)}`);
      const out = res.stdout;
      expect(out.length).toBe(x.byteLength);
      // copy into an aligned buffer
      const y = new Float64Array(x.length);
      new Uint8Array(y.buffer).set(out);
      return y;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const ref = buildRef();
afterAll(() => ref?.cleanup());

function compare(f: (x: number) => number, x: Float64Array, want: Float64Array): string[] {
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const got = f(x[i]!);
    if (!same(got, want[i]!)) {
      count++;
      if (bad.length < 5) bad.push(`x=${toBits(x[i]!)} got ${toBits(got)} want ${toBits(want[i]!)}`);
    }
  }
  if (count > 5) bad.push(`... ${count} mismatches in total`);
  return bad;
}

describe('float64 exp/log2/log vs system libm (plain variants, GLIBC_TUNABLES)', () => {
  it.runIf(inCI)('has a C++ compiler (required under CI=true)', () => {
    expect(noCompiler, 'no C++ compiler: cannot compare with libm').toBe(false);
  });

  const cases: Array<[string, (x: number) => number, () => Float64Array]> = [
    ['exp', exp, expInputs],
    ['log2', log2, () => logInputs(2)],
    ['log', log, () => logInputs(3)],
  ];
  it.skipIf(ref === null).each(cases)('%s: bit-identical on >= 1e6 inputs', (name, f, gen) => {
    const x = gen();
    expect(x.length).toBeGreaterThanOrEqual(1_000_000);
    const want = ref!.run(name, x);
    expect(compare(f, x, want)).toEqual([]);
  });
});
