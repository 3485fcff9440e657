/**
 * Bit-exact TypeScript ports of glibc 2.36's (x86-64) single-precision
 * tanhf, expm1f, expf, logf and cosf — the same algorithms, constants and
 * operation order as native/math/glibc_float.h, so both backends agree bit
 * for bit with each other and with the reference machine's libm (spec 00-common
 * §7/§7b).
 *
 * Arguments must be float32 values (any number is first rounded with
 * Math.fround); results are float32 values. Float steps are emulated with
 * Math.fround after every +, -, *, / of float operands (exact: double has more
 * than 2·24+2 bits, so the double rounding is innocuous); the double steps of
 * expf/logf/cosf use plain JS arithmetic, which is IEEE binary64 and never
 * contracted into FMA.
 *
 * glibc selects, at load time, an FMA-compiled build of expf/cosf on CPUs with
 * FMA+AVX2 (the reference machine); it differs from the plain build on 2 (expf)
 * and 22 (cosf, all with 17 < |x| < 120) of the 2^32 inputs. `expf`/`cosf`
 * reproduce the FMA build (with an exactly emulated fused multiply-add);
 * `expfPlain`/`cosfPlain` reproduce the plain build.
 *
 * NaN results carry no sign or payload here (JS cannot express them); the C++
 * port reproduces those as well.
 */

const fround = Math.fround;

// Shared scratch for bit casts (no allocation per call). The float32 and the
// low uint32 view share bytes 0..3; the float64 view spans both words.
const scratch = new ArrayBuffer(8);
const f32 = new Float32Array(scratch, 0, 1);
const f64 = new Float64Array(scratch, 0, 1);
const u32 = new Uint32Array(scratch, 0, 2);
f64[0] = 1;
/** Index of the high (sign/exponent) word of a float64 in u32. */
const HI = u32[1] === 0x3ff00000 ? 1 : 0;
const LO = 1 - HI;

function floatBits(x: number): number {
  f32[0] = x;
  return u32[0] as number;
}

function floatFromBits(b: number): number {
  u32[0] = b; // ToUint32: wraps like C unsigned arithmetic
  return f32[0] as number;
}

function doubleFromWords(hi: number, lo: number): number {
  u32[HI] = hi;
  u32[LO] = lo;
  return f64[0] as number;
}

/** Parses a C hexadecimal floating literal ("-0x1.8p+52") exactly. */
function hexDouble(s: string): number {
  const m = /^(-?)0x([01])(?:\.([0-9a-f]*))?p([+-]?\d+)$/i.exec(s);
  if (m === null) throw new Error(`bad hex float ${s}`);
  const frac = m[3] ?? '';
  // At most 53 significant bits, so the integer mantissa is exact.
  const mant = parseInt((m[2] ?? '0') + frac, 16);
  let e = parseInt(m[4] ?? '0', 10) - 4 * frac.length;
  let v = mant;
  // Scale by exact powers of two in steps that stay in the normal range.
  while (e !== 0) {
    const step = Math.max(-1000, Math.min(1000, e));
    v *= doubleFromWords(((step + 1023) << 20) >>> 0, 0);
    e -= step;
  }
  return m[1] === '-' ? -v : v;
}

// ---------------------------------------------------------------------------
// Exact fused multiply-add for doubles (one rounding of a*b + c), used to
// reproduce glibc's FMA build. a*b = ph + pl exactly (Dekker/Veltkamp), then
// c + ph = sh + sl exactly (TwoSum), sl + pl = v + verr (TwoSum). The answer
// is RN(sh + (v + verr)); RN(sh + v) equals it unless verr != 0 and sh + v is
// exactly halfway between two doubles, a case detected cheaply (the addition
// error is then a power of two) and resolved by rounding v to odd (Boldo &
// Melquiond). Valid when nothing overflows or underflows, which holds for
// every call site below.

const SPLITTER = 134217729; // 2^27 + 1

function fma(a: number, b: number, c: number): number {
  const ph = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const pl = ah * bh - ph + ah * bl + al * bh + al * bl;

  const sh = c + ph;
  let bb = sh - c;
  const sl = c - (sh - bb) + (ph - bb);

  const v = sl + pl;
  bb = v - sl;
  const verr = sl - (v - bb) + (pl - bb);

  const res = sh + v;
  if (verr === 0) return res;
  bb = res - sh;
  const e2 = sh - (res - bb) + (v - bb); // error of the final addition
  if (e2 === 0) return res;
  t = SPLITTER * e2;
  if (t - (t - e2) !== e2) return res; // e2 has > 26 significant bits: no tie
  return sh + roundToOdd(v, verr);
}

/** v rounded to odd, given that the exact value is v + verr (verr != 0). */
function roundToOdd(v: number, verr: number): number {
  f64[0] = v;
  const lo = u32[LO] as number;
  if ((lo & 1) !== 0) return v;
  if (verr > 0 === v > 0) {
    u32[LO] = lo + 1; // cannot carry: lo is even
  } else if (lo === 0) {
    u32[LO] = 0xffffffff;
    u32[HI] = (u32[HI] as number) - 1;
  } else {
    u32[LO] = lo - 1;
  }
  return f64[0] as number;
}

/** POW2[k + 160] = 2^k for |k| <= 160 (exact scaling without bit casts). */
const POW2 = new Float64Array(321);
for (let k = -160; k <= 160; k++) POW2[k + 160] = doubleFromWords(((k + 1023) << 20) >>> 0, 0);

// ---------------------------------------------------------------------------
// expm1f / tanhf: fdlibm float algorithms.

const LN2_HI = floatFromBits(0x3f317180);
const LN2_LO = floatFromBits(0x3717f7d1);
const INVLN2 = floatFromBits(0x3fb8aa3b);
const Q1 = floatFromBits(0xbd088889);
const Q2 = floatFromBits(0x3ad00d01);
const Q3 = floatFromBits(0xb8a670cd);
const Q4 = floatFromBits(0x36867e54);
const Q5 = floatFromBits(0xb457edbb);

// Branch thresholds on |x|; for non-negative floats, comparing values is the
// same as comparing the bit patterns glibc tests.
const EXPM1_27LN2 = floatFromBits(0x4195b844);
const EXPM1_OVF = floatFromBits(0x42b17218);
const EXPM1_HALF_LN2 = floatFromBits(0x3eb17218);
const EXPM1_1P5_LN2 = floatFromBits(0x3f851592);
const EXPM1_TINY = floatFromBits(0x33000000); // 2^-25

/** glibc 2.36 expm1f (fdlibm, float arithmetic). */
export function expm1f(xIn: number): number {
  let x = fround(xIn);
  if (x !== x) return x;
  const neg = x < 0;
  const ax = Math.abs(x);

  if (ax >= EXPM1_27LN2) {
    if (ax >= EXPM1_OVF) {
      if (ax === Infinity) return neg ? -1 : x;
      if (!neg) return Infinity;
    }
    if (neg) return -1;
  }

  let c = 0;
  let k: number;
  if (ax > EXPM1_HALF_LN2) {
    // x = k*ln2 + (hi - lo)
    let hi: number;
    let lo: number;
    if (ax < EXPM1_1P5_LN2) {
      if (!neg) {
        hi = fround(x - LN2_HI);
        lo = LN2_LO;
        k = 1;
      } else {
        hi = fround(x + LN2_HI);
        lo = -LN2_LO;
        k = -1;
      }
    } else {
      k = Math.trunc(fround(fround(INVLN2 * x) + (neg ? -0.5 : 0.5)));
      hi = fround(x - fround(k * LN2_HI));
      lo = fround(k * LN2_LO);
    }
    x = fround(hi - lo);
    c = fround(fround(hi - x) - lo);
  } else if (ax < EXPM1_TINY) {
    return x;
  } else {
    k = 0;
  }

  const hfx = fround(0.5 * x);
  const hxs = fround(x * hfx);
  let r1 = fround(hxs * Q5);
  r1 = fround(hxs * fround(Q4 + r1));
  r1 = fround(hxs * fround(Q3 + r1));
  r1 = fround(hxs * fround(Q2 + r1));
  r1 = fround(hxs * fround(Q1 + r1));
  r1 = fround(1 + r1);
  let t = fround(3 - fround(r1 * hfx));
  let e = fround(hxs * fround(fround(r1 - t) / fround(6 - fround(x * t))));
  if (k === 0) return fround(x - fround(fround(x * e) - hxs));

  e = fround(fround(x * fround(e - c)) - c);
  e = fround(e - hxs);
  if (k === -1) return fround(fround(0.5 * fround(x - e)) - 0.5);
  if (k === 1) {
    if (x < -0.25) return fround(-2 * fround(e - fround(x + 0.5)));
    return fround(1 + fround(2 * fround(x - e)));
  }
  // glibc adds k to the exponent field. For k <= 56 the result stays a normal
  // float, so that is an exact multiplication by 2^k.
  const scale = POW2[k + 160] as number;
  if (k <= -2) {
    const y = fround(1 - fround(e - x));
    return fround(y * scale - 1);
  }
  if (k > 56) {
    // Near the overflow threshold the exponent field can wrap into Inf/NaN
    // patterns; do the integer addition literally.
    const y = fround(1 - fround(e - x));
    return fround(floatFromBits(floatBits(y) + (k << 23)) - 1);
  }
  if (k < 23) {
    t = fround(1 - (POW2[160 - k] as number)); // 1 - 2^-k, exact
    return fround(t - fround(e - x)) * scale;
  }
  t = POW2[160 - k] as number; // 2^-k
  const y = fround(fround(x - fround(e + t)) + 1);
  return y * scale;
}

/** glibc 2.36 tanhf (fdlibm, float arithmetic; not correctly rounded). */
export function tanhf(xIn: number): number {
  const x = fround(xIn);
  const ax = Math.abs(x);
  if (!(ax < Infinity)) {
    if (x !== x) return x; // NaN
    return x > 0 ? 1 : -1;
  }
  let z: number;
  if (ax < 22) {
    if (ax === 0) return x; // keeps -0
    if (ax < 2.7755575615628914e-17) return fround(x * fround(1 + x)); // |x| < 2^-55
    if (ax >= 1) {
      const t = expm1f(2 * ax); // 2|x| is exact
      z = fround(1 - fround(2 / fround(t + 2)));
    } else {
      const t = expm1f(-2 * ax);
      z = fround(-t / fround(t + 2));
    }
  } else {
    z = 1; // 1 - 1e-30f rounds to 1
  }
  return x < 0 ? -z : z;
}

// ---------------------------------------------------------------------------
// expf: e^x = 2^(k/32) * 2^(r/32), k = round(x*32/ln2), in double.

const EXPF_INVLN2N = hexDouble('0x1.71547652b82fep+0') * 32;
const EXPF_SHIFT = hexDouble('0x1.8p+52'); // adding it rounds to an integer
const EXPF_C0 = hexDouble('0x1.c6af84b912394p-5') / (32 * 32 * 32);
const EXPF_C1 = hexDouble('0x1.ebfce50fac4f3p-3') / (32 * 32);
const EXPF_C2 = hexDouble('0x1.62e42ff0c52d6p-1') / 32;
const EXPF_OFLOW = floatFromBits(0x42b17217); // 0x1.62e42ep6f
const EXPF_UFLOW = floatFromBits(0xc2cff1b4); // -0x1.9fe368p6f
const EXPF_MAY_UFLOW = floatFromBits(0xc2ce8ecf); // -0x1.9d1d9ep6f
const FLT_TRUE_MIN = floatFromBits(1);

// 2^(i/32), i = 0..31. glibc stores bits(2^(i/32)) - (i << 47) so that adding
// k << 47 to the pattern yields 2^(k/32); restoring the i << 47 part here and
// scaling by 2^(k >> 5) below is the same exact operation.
const EXP2F_TAB = new Float64Array(32);
[
  '3ff0000000000000', '3fefd9b0d3158574', '3fefb5586cf9890f', '3fef9301d0125b51',
  '3fef72b83c7d517b', '3fef54873168b9aa', '3fef387a6e756238', '3fef1e9df51fdee1',
  '3fef06fe0a31b715', '3feef1a7373aa9cb', '3feedea64c123422', '3feece086061892d',
  '3feebfdad5362a27', '3feeb42b569d4f82', '3feeab07dd485429', '3feea47eb03a5585',
  '3feea09e667f3bcd', '3fee9f75e8ec5f74', '3feea11473eb0187', '3feea589994cce13',
  '3feeace5422aa0db', '3feeb737b0cdc5e5', '3feec49182a3f090', '3feed503b23e255d',
  '3feee89f995ad3ad', '3feeff76f2fb5e47', '3fef199bdd85529c', '3fef3720dcef9069',
  '3fef5818dcfba487', '3fef7c97337b9b5f', '3fefa4afa2a490da', '3fefd0765b6e4540',
].forEach((h, i) => {
  EXP2F_TAB[i] = doubleFromWords(parseInt(h.slice(0, 8), 16) + (i << 15), parseInt(h.slice(8), 16));
});

function expfCore(xIn: number, fused: boolean): number {
  const x = fround(xIn);
  if (!(Math.abs(x) < 88)) {
    // |x| >= 88, or Inf/NaN
    if (x === -Infinity) return 0;
    if (!(Math.abs(x) < Infinity)) return x + x;
    if (x > EXPF_OFLOW) return Infinity;
    if (x < EXPF_UFLOW) return 0;
    if (x < EXPF_MAY_UFLOW) return FLT_TRUE_MIN; // glibc: 0x1.4p-75f squared
  }
  let kd: number;
  let r: number;
  if (fused) {
    kd = fma(EXPF_INVLN2N, x, EXPF_SHIFT) - EXPF_SHIFT;
    r = fma(EXPF_INVLN2N, x, -kd);
  } else {
    const z = EXPF_INVLN2N * x;
    kd = z + EXPF_SHIFT - EXPF_SHIFT;
    r = z - kd;
  }
  const k = kd | 0; // |k| <= 150*32
  const s = (EXP2F_TAB[k & 31] as number) * (POW2[(k >> 5) + 160] as number); // 2^(k/32)
  const r2 = r * r;
  let y: number;
  if (fused) {
    const p = fma(EXPF_C0, r, EXPF_C1);
    y = fma(EXPF_C2, r, 1);
    y = fma(p, r2, y);
  } else {
    const p = EXPF_C0 * r + EXPF_C1;
    y = EXPF_C2 * r + 1;
    y = p * r2 + y;
  }
  return fround(y * s);
}

/** glibc 2.36 expf, FMA build (selected on FMA+AVX2 CPUs, incl. the reference). */
export function expf(x: number): number {
  return expfCore(x, true);
}

/** glibc 2.36 expf, plain build (CPUs without FMA). */
export function expfPlain(x: number): number {
  return expfCore(x, false);
}

// ---------------------------------------------------------------------------
// logf: x = 2^k z, log(x) = k ln2 + log(c) + log1p(z/c - 1), in double.

const LOGF_INVC = new Float64Array(16);
const LOGF_LOGC = new Float64Array(16);
[
  ['0x1.661ec79f8f3bep+0', '-0x1.57bf7808caadep-2'],
  ['0x1.571ed4aaf883dp+0', '-0x1.2bef0a7c06ddbp-2'],
  ['0x1.49539f0f010bp+0', '-0x1.01eae7f513a67p-2'],
  ['0x1.3c995b0b80385p+0', '-0x1.b31d8a68224e9p-3'],
  ['0x1.30d190c8864a5p+0', '-0x1.6574f0ac07758p-3'],
  ['0x1.25e227b0b8eap+0', '-0x1.1aa2bc79c81p-3'],
  ['0x1.1bb4a4a1a343fp+0', '-0x1.a4e76ce8c0e5ep-4'],
  ['0x1.12358f08ae5bap+0', '-0x1.1973c5a611cccp-4'],
  ['0x1.0953f419900a7p+0', '-0x1.252f438e10c1ep-5'],
  ['0x1p+0', '0x0p+0'],
  ['0x1.e608cfd9a47acp-1', '0x1.aa5aa5df25984p-5'],
  ['0x1.ca4b31f026aap-1', '0x1.c5e53aa362eb4p-4'],
  ['0x1.b2036576afce6p-1', '0x1.526e57720db08p-3'],
  ['0x1.9c2d163a1aa2dp-1', '0x1.bc2860d22477p-3'],
  ['0x1.886e6037841edp-1', '0x1.1058bc8a07ee1p-2'],
  ['0x1.767dcf5534862p-1', '0x1.4043057b6ee09p-2'],
].forEach(([invc, logc], i) => {
  LOGF_INVC[i] = hexDouble(invc as string);
  LOGF_LOGC[i] = hexDouble(logc as string);
});
const LOGF_LN2 = hexDouble('0x1.62e42fefa39efp-1');
const LOGF_A0 = hexDouble('-0x1.00ea348b88334p-2');
const LOGF_A1 = hexDouble('0x1.5575b0be00b6ap-2');
const LOGF_A2 = hexDouble('-0x1.ffffef20a4123p-2');

/** glibc 2.36 logf (both builds agree on every input). */
export function logf(xIn: number): number {
  const x = fround(xIn);
  let ix = floatBits(x);
  if (ix === 0x3f800000) return 0;
  if (((ix - 0x00800000) >>> 0) >= 0x7f000000) {
    // subnormal, zero, negative, Inf or NaN
    if ((ix & 0x7fffffff) === 0) return -Infinity;
    if (ix === 0x7f800000) return x;
    if (ix >= 0x80000000 || ix > 0x7f800000) return NaN;
    ix = (floatBits(fround(x * 8388608)) - (23 << 23)) >>> 0; // normalise (exact)
  }
  const tmp = (ix - 0x3f330000) >>> 0;
  const i = (tmp >>> 19) & 15;
  const k = (tmp | 0) >> 23;
  const z = floatFromBits(ix - ((tmp & 0xff800000) >>> 0));
  const r = z * (LOGF_INVC[i] as number) - 1;
  const y0 = (LOGF_LOGC[i] as number) + k * LOGF_LN2;
  const r2 = r * r;
  let y = LOGF_A1 * r + LOGF_A2;
  y = LOGF_A0 * r2 + y;
  y = y * r2 + (y0 + r);
  return fround(y);
}

// ---------------------------------------------------------------------------
// cosf: quadrant reduction plus sine/cosine polynomials, in double.

const SC_HPI_INV = hexDouble('0x1.45f306dc9c883p+23'); // 2/pi * 2^24
const SC_HPI = hexDouble('0x1.921fb54442d18p0'); // pi/2
const SC_PI63 = hexDouble('0x1.921fb54442d18p-62'); // 2pi * 2^-64
const SC_C0 = 1;
const SC_C1 = hexDouble('-0x1.ffffffd0c621cp-2');
const SC_C2 = hexDouble('0x1.55553e1068f19p-5');
const SC_C3 = hexDouble('-0x1.6c087e89a359dp-10');
const SC_C4 = hexDouble('0x1.99343027bf8c3p-16');
const SC_S1 = hexDouble('-0x1.555545995a603p-3');
const SC_S2 = hexDouble('0x1.1107605230bc4p-7');
const SC_S3 = hexDouble('-0x1.994eb3774cf24p-13');

// 4/pi in fixed point, entry j = bits 8j .. 8j+31.
const INV_PIO4 = new Uint32Array([
  0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
  0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1, 0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
  0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
]);

/**
 * sin (n even) or cos (n odd) of the reduced argument x (x2 = x*x); neg
 * selects the negated cosine polynomial (quadrants 2, 3). Term grouping as in
 * glibc, so the double roundings match.
 */
function sincosPoly(x: number, x2: number, n: number, neg: boolean, fused: boolean): number {
  if ((n & 1) === 0) {
    const x3 = x * x2;
    const x7 = x3 * x2;
    if (fused) {
      const s1 = fma(x2, SC_S3, SC_S2);
      const s = fma(x3, SC_S1, x);
      return fround(fma(x7, s1, s));
    }
    const s1 = SC_S2 + x2 * SC_S3;
    const s = x + x3 * SC_S1;
    return fround(s + x7 * s1);
  }
  const sg = neg ? -1 : 1; // negating coefficients is exact
  const x4 = x2 * x2;
  const x6 = x4 * x2;
  if (fused) {
    const c2 = fma(x2, sg * SC_C4, sg * SC_C3);
    const c1 = fma(x2, sg * SC_C1, sg * SC_C0);
    const c = fma(x4, sg * SC_C2, c1);
    return fround(fma(x6, c2, c));
  }
  const c2 = sg * SC_C3 + x2 * (sg * SC_C4);
  const c1 = sg * SC_C0 + x2 * (sg * SC_C1);
  const c = c1 + x4 * (sg * SC_C2);
  return fround(c + x6 * c2);
}

/** Full 64-bit product of two uint32 values, as exact doubles. */
let mulHi = 0;
let mulLo = 0;
function mul32x32(a: number, b: number): void {
  const p1 = a * (b & 0xffff); // < 2^48, exact
  const p2 = a * (b >>> 16); // < 2^48, exact
  const sum = (p2 % 65536) * 65536 + p1; // < 2^49, exact
  mulLo = sum % 4294967296;
  mulHi = Math.floor(p2 / 65536) + Math.floor(sum / 4294967296);
}

let largeN = 0;
/**
 * Large-argument reduction (|x| >= 120): multiply the 24-bit significand by
 * a 96-bit window of 4/pi, keep the product modulo 4 as a 2.62 fixed-point
 * 64-bit number (held as two 32-bit words), round to the nearest quadrant.
 * Returns the remainder in radians; the quadrant goes to largeN.
 */
function reduceLarge(xi: number): number {
  const j = (xi >>> 26) & 15;
  const m = (((xi & 0xffffff) | 0x800000) << ((xi >>> 23) & 7)) >>> 0;
  const top = Math.imul(m, INV_PIO4[j] as number) >>> 0; // only low 32 bits survive
  mul32x32(m, INV_PIO4[j + 8] as number);
  let lo = mulHi; // res2 >> 32
  mul32x32(m, INV_PIO4[j + 4] as number);
  lo += mulLo;
  const carry = lo >= 4294967296 ? 1 : 0;
  lo -= carry * 4294967296;
  const hi = (top + mulHi + carry) >>> 0;
  const n = (hi + 0x20000000) >>> 30; // (res + 2^61) >> 62, modulo 2^64
  largeN = n;
  const hiSigned = (hi - n * 0x40000000) | 0; // res - n*2^62 as int64 high word
  return (hiSigned * 4294967296 + lo) * SC_PI63; // one rounding, like (double)int64
}

function cosfCore(yIn: number, fused: boolean): number {
  const y = fround(yIn);
  const ay = Math.abs(y);
  // glibc classifies by the top 12 bits of |y|: thresholds 0x3f4 (just
  // below pi/4), 0x398 (2^-12), 0x42f (120), 0x7f8 (Inf).
  let x = y;
  if (ay < 0.75) {
    if (ay < 0.000244140625) return 1; // |y| < 2^-12
    return sincosPoly(x, x * x, 1, false, fused);
  }
  if (ay < 120) {
    // x - n*pi/2; the quadrant lands in bits 24..31 of r
    const r = x * SC_HPI_INV;
    const n = ((r | 0) + 0x800000) >> 24;
    x = fused ? fma(-n, SC_HPI, x) : x - n * SC_HPI;
    const s = (n + 1) & 2 ? -1 : 1; // sign of sine in quadrant n & 3
    return sincosPoly(x * s, x * x, n ^ 1, (n & 2) !== 0, fused);
  }
  if (ay < Infinity) {
    const yi = floatBits(y);
    x = reduceLarge(yi);
    const n = largeN;
    const q = n + (yi >>> 31);
    const s = (q + 1) & 2 ? -1 : 1;
    return sincosPoly(x * s, x * x, n ^ 1, (q & 2) !== 0, fused);
  }
  return NaN; // Inf or NaN
}

/** glibc 2.36 cosf, FMA build (selected on FMA+AVX2 CPUs, incl. the reference). */
export function cosf(x: number): number {
  return cosfCore(x, true);
}

/** glibc 2.36 cosf, plain build (CPUs without FMA). */
export function cosfPlain(x: number): number {
  return cosfCore(x, false);
}
