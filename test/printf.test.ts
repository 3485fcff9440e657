import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { compileFormat, fmtFixed, NEG_NAN, POS_NAN, PrintfNaN, sprintf, type PrintfArg } from '../lib/format/printf.js';
import { SatrnnError } from '../lib/errors.js';
import { buildNative, inCI } from './native/cc.js';

describe('sprintf: measured glibc pairs (spec 00-common section 8)', () => {
  it.each([
    ['%.2f', 0.125, '0.12'],
    ['%.0f', 2.5, '2'],
    ['%.1f', (100 * 1024) / 16384, '6.2'],
    ['%.1f', -0.25, '-0.2'],
    ['%.4f', -0, '-0.0000'],
    ['%+.4f', -0, '-0.0000'],
    ['%.4f', -0.00001, '-0.0000'],
    ['%+.4f', 0, '+0.0000'],
    ['%f', 0 / 0, '-nan'],
    ['%f', 1 / 0, 'inf'],
    ['%.2f', 1.005, '1.00'],
    ['%-8.0e', Math.fround(1e-5), '1e-05   '],
  ] as const)('%s of %d -> %s', (fmt, x, want) => {
    expect(sprintf(fmt, x)).toBe(want);
  });

  it('fmtFixed agrees on the same pairs', () => {
    expect(fmtFixed(0.125, 2)).toBe('0.12');
    expect(fmtFixed(2.5, 0)).toBe('2');
    expect(fmtFixed(6.25, 1)).toBe('6.2');
    expect(fmtFixed(-0.25, 1)).toBe('-0.2');
    expect(fmtFixed(-0, 4)).toBe('-0.0000');
    expect(fmtFixed(-0.00001, 4)).toBe('-0.0000');
    expect(fmtFixed(NaN, 4)).toBe('-nan');
    expect(fmtFixed(Infinity, 4)).toBe('inf');
    expect(fmtFixed(-Infinity, 1)).toBe('-inf');
    expect(fmtFixed(1e21, 1)).toBe('1000000000000000000000.0');
    expect(fmtFixed(2 ** 70, 0)).toBe('1180591620717411303424');
  });
});

describe('sprintf: details', () => {
  it('NaN sign is selectable', () => {
    expect(sprintf('%f %f %+f %5.1f %F', NEG_NAN, POS_NAN, POS_NAN, POS_NAN, NaN)).toBe('-nan nan +nan   nan -NAN');
    expect(sprintf('%.1f%%', NaN)).toBe('-nan%');
  });
  it('literals, %% and several conversions', () => {
    expect(sprintf('a%%b')).toBe('a%b');
    expect(sprintf('%-3d|%3d|%c|%02x|%s', 5, 7, 65, 10, 'x')).toBe('5  |  7|A|0a|x');
    expect(sprintf('%8s %10s %10s %8s', 'epoch', 'train_bpc', 'eval_bpc', 'lr')).toBe(
      '   epoch  train_bpc   eval_bpc       lr',
    );
    expect(sprintf('%6.1f%%', 6.25)).toBe('   6.2%');
  });
  it('star width and precision', () => {
    expect(sprintf('[%*d][%-*d][%.*f][%*d][%.*f]', 5, 42, 5, 42, 2, 3.14159, -4, 7, -1, 1.5)).toBe(
      '[   42][42   ][3.14][7   ][1.500000]',
    );
  });
  it('bigint and 64-bit conversions', () => {
    expect(sprintf('%lld %llu %llx', -(2n ** 63n), -1n, 2n ** 64n - 1n)).toBe(
      '-9223372036854775808 18446744073709551615 ffffffffffffffff',
    );
    expect(sprintf('%u %x', -1, -1)).toBe('4294967295 ffffffff');
    expect(sprintf('%lu', -1)).toBe('18446744073709551615');
  });
  it('rejects misuse', () => {
    expect(() => sprintf('%d', 1.5)).toThrow(SatrnnError);
    expect(() => sprintf('%s', 1)).toThrow(SatrnnError);
    expect(() => sprintf('%f', 'x')).toThrow(SatrnnError);
    expect(() => sprintf('%d %d', 1)).toThrow(/needs 2 arguments/);
    expect(() => sprintf("%")).toThrow(/format ends inside a conversion/);
    expect(() => sprintf('%n', 1)).toThrow(/unsupported/);
  });
  it('compileFormat matches sprintf', () => {
    const f = compileFormat('%3d %7.4f %s');
    expect(f(1, Math.PI, 'z')).toBe(sprintf('%3d %7.4f %s', 1, Math.PI, 'z'));
  });
});

// ---------------------------------------------------------------------------------------
// Comparison against the C library

/** mulberry32: small deterministic PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dv = new DataView(new ArrayBuffer(8));
function bitsOf(x: number): string {
  dv.setFloat64(0, x);
  return dv.getBigUint64(0).toString(16).padStart(16, '0');
}
function fromBits(hi: number, lo: number): number {
  dv.setUint32(0, hi);
  dv.setUint32(4, lo);
  return dv.getFloat64(0);
}
function nextUp(x: number): number {
  return x === 0 ? 5e-324 : fromBitsBig(toBig(x) + (x > 0 ? 1n : -1n));
}
function nextDown(x: number): number {
  return -nextUp(-x);
}
function toBig(x: number): bigint {
  dv.setFloat64(0, x);
  return dv.getBigUint64(0);
}
function fromBitsBig(b: bigint): number {
  dv.setBigUint64(0, b);
  return dv.getFloat64(0);
}

interface DoubleCase {
  js: number | PrintfNaN;
  bits: string;
}

function doubleCases(): DoubleCase[] {
  const rnd = prng(20240601);
  const xs: number[] = [];
  const push = (...v: number[]) => {
    for (const x of v) xs.push(x, -x);
  };
  push(0, 0.125, 2.5, 6.25, 0.25, 0.5, 1.5, 1.005, 9.5, 99.5, 0.05, 0.95, 0.995, 0.9995, 0.99995);
  push(9.9999995, 999999.5, 9999995, 1e-5, 1e-4, 1e-3, 0.1, 0.2, 0.3, 1, 10, 100, 1e15, 1e16, 1e17);
  push(1e21, nextDown(1e21), nextUp(1e21), 1e22, 1e300, 1.7976931348623157e308, 2 ** 70, 2 ** 53, 2 ** 53 + 2);
  push(5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308, 1e-310, Number.EPSILON, Math.PI, Math.E);
  push(Math.fround(1e-5), Math.fround(1e-4), Math.fround(1e-3), Math.fround(0.1), Math.fround(1e-2));
  push(Infinity);
  // Exact ties at precision P: odd k / 2^(P+1), plus small dyadic values (ties of many formats).
  for (let p = 0; p <= 12; p++) {
    for (let j = 0; j < 30; j++) {
      const k = 2 * Math.floor(rnd() * (j < 10 ? 64 : j < 20 ? 65536 : 2 ** 30)) + 1;
      push(k / 2 ** (p + 1));
    }
  }
  for (let n = 0; n < 160; n++) push(n / 8, n + 0.5, n * 5);
  // Doubles nearest to decimal ties, and their neighbours.
  for (let j = 0; j < 300; j++) {
    const p = Math.floor(rnd() * 7);
    const x = (Math.floor(rnd() * 100000) + 0.5) / 10 ** p;
    push(x, nextUp(x), nextDown(x));
  }
  // Powers of two and ten with neighbours: exponent selection of %e/%g.
  for (let e = -1074; e <= 1023; e += 5) push(2 ** e);
  for (let e = -323; e <= 308; e += 2) {
    const x = Number(`1e${e}`);
    push(x, nextUp(x), nextDown(x));
  }
  // Random doubles: full bit patterns, uniform, log-uniform.
  for (let j = 0; j < 500; j++) {
    const x = fromBits((rnd() * 4294967296) >>> 0, (rnd() * 4294967296) >>> 0);
    if (Number.isFinite(x)) xs.push(x);
    xs.push(rnd() * 20 - 10);
    xs.push((rnd() < 0.5 ? -1 : 1) * 10 ** (rnd() * 60 - 30));
  }
  // Random float32 values (how the originals print their float data).
  for (let j = 0; j < 500; j++) {
    xs.push(Math.fround((rnd() < 0.5 ? -1 : 1) * 10 ** (rnd() * 20 - 10)));
    xs.push(Math.fround(rnd() * 2 - 1));
    const f = new Float32Array(new Uint32Array([(rnd() * 4294967296) >>> 0]).buffer)[0]!;
    if (Number.isFinite(f)) xs.push(f);
  }
  const cases: DoubleCase[] = xs.map((x) => ({ js: x, bits: bitsOf(x) }));
  cases.push({ js: NaN, bits: 'fff8000000000000' }); // x86 0/0
  cases.push({ js: NEG_NAN, bits: 'fff8000000000000' });
  cases.push({ js: POS_NAN, bits: '7ff8000000000000' });
  return cases;
}

const DOUBLE_FORMATS = [
  '%f', '%.0f', '%.1f', '%.2f', '%.3f', '%.4f', '%.6f', '%7.4f', '%+.4f', '%+.3f', '%+.2f', '%+.1f',
  '%6.1f', '%5.1f', '%8.2f', '%10.4f', '%8.6f', '%5.3f', '%4.1f', '%7.3f', '%6.2f', '%6.3f', '%8.3f',
  '%8.4f', '%6.1f%%', '%.12f', '%.25f', '%F', '%#.0f', '%010.3f', '%-10.2f', '% .3f', '%-+9.2f', '%+010.2f',
  '%-8.0e', '%e', '%.0e', '%.3e', '%E', '%12.5e', '%+e', '%#.0e', '%08.3e', '% -9.1e',
  '%g', '%.3g', '%.10g', '%.17g', '%G', '%#g', '%.0g', '%#.3g', '%-12.4g', '%+.1g',
];

const INT_FORMATS = [
  '%d', '%i', '%u', '%x', '%X', '%02x', '%o', '%-3d', '%3d', '%5d', '%+d', '% i', '% d', '%08d', '%-8d',
  '%.5d', '%.0d', '%#x', '%#o', '%#X', '%2d', '%4d', '%-4d', '%-5d', '%8d', '%6d', '%5.3d', '%-+6d',
  '%hhd', '%hd', '%hu', '%hhx', '%#.0o', '%+.0d', '%#08x', '%-#6o',
];
const CHAR_FORMATS = ['%c', '%3c', '%-3c', '%03c', '[%c]'];
const LONG_FORMATS = ['%ld', '%lld', '%lu', '%llx', '%lo', '%+lld', '%25lld', '%-22llu', '%#lX'];
const STRING_FORMATS = ['%s', '%10s', '%8s', '%-10s', '%.3s', '%-8.2s', '%05s', '[%.0s]'];

interface Rec {
  kind: 'D' | 'I' | 'L' | 'S';
  fmt: string;
  cval: string;
  arg: PrintfArg;
}

function records(): Rec[] {
  const recs: Rec[] = [];
  const dcs = doubleCases();
  for (const fmt of DOUBLE_FORMATS) for (const d of dcs) recs.push({ kind: 'D', fmt, cval: d.bits, arg: d.js });
  // Exact ties of %.Pe: odd multiples of 5 scaled by powers of two are exact decimal ties.
  for (let p = 0; p <= 6; p++) {
    for (let k = 1; k < 400; k += 2) {
      for (const x of [k * 5 * 10 ** p, (k * 5) / 2 ** (p + 3), -k * 0.5]) {
        recs.push({ kind: 'D', fmt: `%.${p}e`, cval: bitsOf(x), arg: x });
        recs.push({ kind: 'D', fmt: `%.${p + 1}g`, cval: bitsOf(x), arg: x });
      }
    }
  }
  // Values just below powers of ten: %g's choice between fixed and exponent style when
  // rounding carries (glibc's '#' quirk lives here).
  for (let p = 0; p <= 10; p++) {
    const P = p === 0 ? 1 : p;
    for (let k = -7; k <= P + 2; k++) {
      const top = Number(`1e${k}`);
      const half = Number(`5e${k - P - 1}`);
      for (const x of [nextDown(top), top - half, nextDown(top - half), top - 2 * half, top + half]) {
        for (const fmt of [`%#.${p}g`, `%.${p}g`, `%#.${p}e`, `%#.${p}f`]) {
          recs.push({ kind: 'D', fmt, cval: bitsOf(x), arg: x });
        }
      }
    }
  }
  const rnd = prng(7);
  const ints = [0, 1, -1, 2, -2, 7, 8, 9, 10, 15, 16, 255, 256, -255, 1000, 99999, 100000, -100000];
  ints.push(2147483647, -2147483648, 65535, 65536, -32768, 32767, 127, 128, -128, -129);
  for (let j = 0; j < 300; j++) {
    ints.push((rnd() * 4294967296) | 0, Math.floor(rnd() * 1000) - 500, Math.floor(rnd() * 300));
  }
  for (const fmt of INT_FORMATS) for (const v of ints) recs.push({ kind: 'I', fmt, cval: String(v), arg: v });
  for (const fmt of CHAR_FORMATS) {
    for (let b = 1; b < 256; b++) if (b !== 10) recs.push({ kind: 'I', fmt, cval: String(b), arg: b });
  }
  const longs = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 32n, -(2n ** 32n), 2n ** 53n + 1n];
  for (let j = 0; j < 100; j++) {
    longs.push(BigInt.asIntN(64, (BigInt((rnd() * 2 ** 32) >>> 0) << 32n) | BigInt((rnd() * 2 ** 32) >>> 0)));
  }
  for (const fmt of LONG_FORMATS) for (const v of longs) recs.push({ kind: 'L', fmt, cval: String(v), arg: v });
  const strs = ['', 'a', 'epoch', 'train_bpc', 'eval_bpc', 'lr', 'a longer string here', 'caf\u00e9 \u00ff'];
  for (const fmt of STRING_FORMATS) for (const s of strs) recs.push({ kind: 'S', fmt, cval: s, arg: s });
  return recs;
}

const printfRef = buildNative('printf_ref.c');
afterAll(() => printfRef?.cleanup());

describe('sprintf vs the C library (snprintf)', () => {
  it.runIf(inCI)('has a C compiler (required under CI=true)', () => {
    expect(printfRef, 'no C compiler: cannot compare with the C library').not.toBeNull();
  });

  it.skipIf(printfRef === null)('agrees on every record', () => {
    const recs = records();
    const input = recs.map((r) => `${r.kind}\t${r.fmt}\t${r.cval}\n`).join('');
    const res = spawnSync(printfRef!.path, {
      input: Buffer.from(input, 'latin1'),
      maxBuffer: 1 << 30,
    });
    expect(res.status).toBe(0);
    const lines = res.stdout.toString('latin1').split('\n');
    expect(lines.length).toBe(recs.length + 1);
    expect(recs.length).toBeGreaterThan(100_000);
    const bad: string[] = [];
    let fixedChecked = 0;
    for (let k = 0; k < recs.length; k++) {
      const r = recs[k]!;
      const want = lines[k]!;
      const got = sprintf(r.fmt, r.arg);
      if (got !== want) bad.push(`${r.fmt} ${r.kind}:${r.cval} C=${JSON.stringify(want)} JS=${JSON.stringify(got)}`);
      // The hot-loop helper must agree with C wherever '%.Nf' is used.
      const m = /^%\.(\d+)f$/.exec(r.fmt);
      if (m && typeof r.arg === 'number') {
        fixedChecked++;
        const f = fmtFixed(r.arg, Number(m[1]));
        if (f !== want) bad.push(`fmtFixed ${r.fmt} ${r.cval} C=${JSON.stringify(want)} JS=${JSON.stringify(f)}`);
      }
    }
    expect(fixedChecked).toBeGreaterThan(10_000);
    expect(bad.slice(0, 30)).toEqual([]);
  });
});
