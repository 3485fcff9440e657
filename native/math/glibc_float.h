// glibc_float.h — bit-exact re-implementations of glibc 2.36's (x86-64) tanhf,
// expm1f, expf, logf and cosf (see spec 00-common §7/§7b).
//
// Why: the reference outputs were produced with glibc 2.36, whose tanhf is not
// correctly rounded and whose expf/logf/cosf differ from correctly rounded
// results on a small fraction of inputs. Newer glibc versions changed tanhf, so
// the system libm cannot be relied on; these ports reproduce 2.36 for all 2^32
// inputs (validated by tools/mathcheck/float_check.cc).
//
// Requirements: IEEE binary32/binary64 with SSE semantics (no x87 excess
// precision), round-to-nearest, never -ffast-math. Every float expression
// below rounds each operation to float and every double expression to double,
// exactly as glibc's C code does, so a*b+c must not be contracted into an FMA:
// the pragmas below switch contraction off for this header under gcc and clang
// (without them, -march=native builds change 150744 tanhf results); build the
// rest of the project with -ffp-contract=off anyway (spec §7).
//
// Algorithms (written from the published algorithm descriptions and constants):
//  - tanhf / expm1f: the fdlibm float algorithms (float arithmetic throughout).
//  - expf: 2^(k/32) table + cubic polynomial, evaluated in double.
//  - logf: 16-entry (1/c, log c) table + quartic log1p polynomial in double.
//  - cosf: quadrant reduction (single multiply-subtract up to |x| < 120,
//    otherwise integer multiplication by 192 bits of 4/pi) + even/odd
//    double polynomials.
//
// x86-64 glibc carries two builds of expf/logf/cosf and picks the FMA build
// (gcc contracted a*b+c into fused multiply-adds) on CPUs with FMA+AVX2, as on
// the reference machine. For expf (2 inputs) and cosf (22 inputs, all with
// 17 < |x| < 120) the builds differ, so expf/cosf here reproduce the FMA build
// using explicit exact fma calls; expf_plain/cosf_plain reproduce the other.
// logf's builds agree on every input.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

// clang: scoped pragma at the top of each function body.
#if defined(__clang__)
#define SATRNN_GMATH_NO_CONTRACT _Pragma("clang fp contract(off)")
#else
#define SATRNN_GMATH_NO_CONTRACT
#endif

// gcc: make these functions immune to the includer's -ffp-contract setting.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace satrnn {
namespace gmath {

namespace detail {

inline uint32_t f2u(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float u2f(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint64_t d2u(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}
inline double u2d(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

// Exact fused multiply-add (one rounding): an instruction with -mfma, else
// the libm call, which is exact as well.
inline double fma(double a, double b, double c) {
#if defined(__GNUC__)
  return __builtin_fma(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// Bits 20..30 of a float: sign dropped, exponent plus 3 mantissa bits. Cheap
// magnitude classification used by expf and cosf.
inline uint32_t abstop12(float x) { return (f2u(x) >> 20) & 0x7ffu; }

// expf: T[i] = bits(2^(i/32)) - (i << 47); adding k << 47 (k = 32*e + i) to the
// bit pattern then yields 2^(k/32) directly.
alignas(64) static const uint64_t kExp2fTab[32] = {
    0x3ff0000000000000ull, 0x3fefd9b0d3158574ull, 0x3fefb5586cf9890full, 0x3fef9301d0125b51ull,
    0x3fef72b83c7d517bull, 0x3fef54873168b9aaull, 0x3fef387a6e756238ull, 0x3fef1e9df51fdee1ull,
    0x3fef06fe0a31b715ull, 0x3feef1a7373aa9cbull, 0x3feedea64c123422ull, 0x3feece086061892dull,
    0x3feebfdad5362a27ull, 0x3feeb42b569d4f82ull, 0x3feeab07dd485429ull, 0x3feea47eb03a5585ull,
    0x3feea09e667f3bcdull, 0x3fee9f75e8ec5f74ull, 0x3feea11473eb0187ull, 0x3feea589994cce13ull,
    0x3feeace5422aa0dbull, 0x3feeb737b0cdc5e5ull, 0x3feec49182a3f090ull, 0x3feed503b23e255dull,
    0x3feee89f995ad3adull, 0x3feeff76f2fb5e47ull, 0x3fef199bdd85529cull, 0x3fef3720dcef9069ull,
    0x3fef5818dcfba487ull, 0x3fef7c97337b9b5full, 0x3fefa4afa2a490daull, 0x3fefd0765b6e4540ull,
};

// logf: for subinterval i of [0x3f330000, 2*0x3f330000) (as floats), 1/c and
// log(c) for a point c near its centre (1/c rounded so that z/c - 1 is exact).
struct LogfEntry {
  double invc, logc;
};
alignas(64) static const LogfEntry kLogfTab[16] = {
    {0x1.661ec79f8f3bep+0, -0x1.57bf7808caadep-2}, {0x1.571ed4aaf883dp+0, -0x1.2bef0a7c06ddbp-2},
    {0x1.49539f0f010bp+0, -0x1.01eae7f513a67p-2},  {0x1.3c995b0b80385p+0, -0x1.b31d8a68224e9p-3},
    {0x1.30d190c8864a5p+0, -0x1.6574f0ac07758p-3}, {0x1.25e227b0b8eap+0, -0x1.1aa2bc79c81p-3},
    {0x1.1bb4a4a1a343fp+0, -0x1.a4e76ce8c0e5ep-4}, {0x1.12358f08ae5bap+0, -0x1.1973c5a611cccp-4},
    {0x1.0953f419900a7p+0, -0x1.252f438e10c1ep-5}, {0x1p+0, 0x0p+0},
    {0x1.e608cfd9a47acp-1, 0x1.aa5aa5df25984p-5},  {0x1.ca4b31f026aap-1, 0x1.c5e53aa362eb4p-4},
    {0x1.b2036576afce6p-1, 0x1.526e57720db08p-3},  {0x1.9c2d163a1aa2dp-1, 0x1.bc2860d22477p-3},
    {0x1.886e6037841edp-1, 0x1.1058bc8a07ee1p-2},  {0x1.767dcf5534862p-1, 0x1.4043057b6ee09p-2},
};

// cosf/sinf polynomial set. The second set has the cosine polynomial negated
// so quadrants 2 and 3 get their sign for free.
struct SinCosPoly {
  double c0, c1, c2, c3, c4;  // cos(x) ~ c0 + c1 x^2 + ... + c4 x^8
  double s1, s2, s3;          // sin(x) ~ x + s1 x^3 + s2 x^5 + s3 x^7
};
static const SinCosPoly kSinCos[2] = {
    {0x1p0, -0x1.ffffffd0c621cp-2, 0x1.55553e1068f19p-5, -0x1.6c087e89a359dp-10,
     0x1.99343027bf8c3p-16, -0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13},
    {-0x1p0, 0x1.ffffffd0c621cp-2, -0x1.55553e1068f19p-5, 0x1.6c087e89a359dp-10,
     -0x1.99343027bf8c3p-16, -0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13},
};
static const double kSinSign[4] = {1.0, -1.0, -1.0, 1.0};

// 4/pi in fixed point; entry j holds bits 8j .. 8j+31 so that any 96-bit
// window starting at a byte boundary is three aligned words (j, j+4, j+8).
static const uint32_t kInvPio4[24] = {
    0xa2u,       0xa2f9u,     0xa2f983u,   0xa2f9836eu, 0xf9836e4eu, 0x836e4e44u,
    0x6e4e4415u, 0x4e441529u, 0x441529fcu, 0x1529fc27u, 0x29fc2757u, 0xfc2757d1u,
    0x2757d1f5u, 0x57d1f534u, 0xd1f534ddu, 0xf534ddc0u, 0x34ddc0dbu, 0xddc0db62u,
    0xc0db6295u, 0xdb629599u, 0x6295993cu, 0x95993c43u, 0x993c4390u, 0x3c439041u,
};

// Evaluates sin (n even) or cos (n odd) of the reduced argument x (x2 = x*x),
// grouping terms exactly as glibc does so the double roundings match. Fused
// selects glibc's FMA build, where each "a + b*c" is one fused operation.
template <bool Fused>
inline float sincos_poly(double x, double x2, const SinCosPoly& p, int n) {
  SATRNN_GMATH_NO_CONTRACT
  if ((n & 1) == 0) {
    const double x3 = x * x2;
    const double x7 = x3 * x2;
    if (Fused) {
      const double s1 = fma(x2, p.s3, p.s2);
      const double s = fma(x3, p.s1, x);
      return static_cast<float>(fma(x7, s1, s));
    }
    const double s1 = p.s2 + x2 * p.s3;
    const double s = x + x3 * p.s1;
    return static_cast<float>(s + x7 * s1);
  }
  const double x4 = x2 * x2;
  const double x6 = x4 * x2;
  if (Fused) {
    const double c2 = fma(x2, p.c4, p.c3);
    const double c1 = fma(x2, p.c1, p.c0);
    const double c = fma(x4, p.c2, c1);
    return static_cast<float>(fma(x6, c2, c));
  }
  const double c2 = p.c3 + x2 * p.c4;
  const double c1 = p.c0 + x2 * p.c1;
  const double c = c1 + x4 * p.c2;
  return static_cast<float>(c + x6 * c2);
}

// Large-argument reduction: multiplies the 24-bit significand by a 96-bit
// window of 4/pi chosen by the exponent, keeping the product modulo 4 as a
// 2.62 fixed-point number; returns the remainder in radians (|r| <= pi/4)
// and the quadrant in *np.
inline double reduce_large(uint32_t xi, int* np) {
  SATRNN_GMATH_NO_CONTRACT
  const uint32_t* arr = &kInvPio4[(xi >> 26) & 15u];
  const unsigned shift = (xi >> 23) & 7u;
  uint32_t m = ((xi & 0xffffffu) | 0x800000u) << shift;
  // Only the low 32 bits of the top partial product survive the modulo.
  uint64_t res0 = static_cast<uint32_t>(m * arr[0]);
  const uint64_t res1 = static_cast<uint64_t>(m) * arr[4];
  const uint64_t res2 = static_cast<uint64_t>(m) * arr[8];
  res0 = (res2 >> 32) | (res0 << 32);
  res0 += res1;
  const uint64_t n = (res0 + (1ull << 61)) >> 62;  // round to nearest quadrant
  res0 -= n << 62;
  const double r = static_cast<double>(static_cast<int64_t>(res0));
  *np = static_cast<int>(n);
  return r * 0x1.921FB54442D18p-62;  // 2*pi * 2^-64
}

// expf core, templated on how a*b+c is evaluated: glibc 2.36 on x86-64 ships
// two builds of the same C source and picks one at load time; the build for
// FMA-capable CPUs (the reference machine's) has gcc's contraction of a*b+c
// into a fused multiply-add, which changes 2 of the 2^32 results.
template <bool Fused>
inline float expf_impl(float x) {
  SATRNN_GMATH_NO_CONTRACT
  const double InvLn2N = 0x1.71547652b82fep+0 * 32;
  const double Shift = 0x1.8p+52;  // adding it rounds to an integer (ties even)
  const double C0 = 0x1.c6af84b912394p-5 / (32.0 * 32.0 * 32.0);
  const double C1 = 0x1.ebfce50fac4f3p-3 / (32.0 * 32.0);
  const double C2 = 0x1.62e42ff0c52d6p-1 / 32.0;

  const uint32_t ix = f2u(x);
  const uint32_t abstop = (ix >> 20) & 0x7ffu;
  if (abstop >= 0x42bu) {  // |x| >= 88, or Inf/NaN
    if (ix == 0xff800000u) return 0.0f;
    if (abstop >= 0x7f8u) return x + x;
    if (x > 0x1.62e42ep6f) return u2f(0x7f800000u);  // overflow
    if (x < -0x1.9fe368p6f) return 0.0f;             // underflow
    // glibc's "may underflow" path returns 0x1.4p-75f squared, i.e. the
    // smallest subnormal.
    if (x < -0x1.9d1d9ep6f) return 0x1p-149f;
  }
  const double xd = x;
  double kd, r, y;
  uint64_t ki;
  if (Fused) {
    kd = fma(InvLn2N, xd, Shift);
    ki = d2u(kd);  // low bits hold k (two's complement)
    kd -= Shift;
    r = fma(InvLn2N, xd, -kd);
  } else {
    const double z = InvLn2N * xd;
    kd = z + Shift;
    ki = d2u(kd);
    kd -= Shift;
    r = z - kd;
  }
  const uint64_t tbits = kExp2fTab[ki % 32] + (ki << 47);
  const double s = u2d(tbits);
  const double r2 = r * r;
  if (Fused) {
    const double p = fma(C0, r, C1);
    y = fma(C2, r, 1.0);
    y = fma(p, r2, y);
  } else {
    const double p = C0 * r + C1;
    y = C2 * r + 1.0;
    y = p * r2 + y;
  }
  y = y * s;
  return static_cast<float>(y);
}

// cosf core: sincosf-style reduction to |r| <= pi/4 plus the quadrant, then
// the sine or cosine polynomial. Fused as for expf_impl (22 of the 2^32
// results differ between the two builds, all with 17 < |x| < 120).
template <bool Fused>
inline float cosf_impl(float y) {
  SATRNN_GMATH_NO_CONTRACT
  const double HpiInv = 0x1.45F306DC9C883p+23;  // 2/pi * 2^24
  const double Hpi = 0x1.921FB54442D18p0;       // pi/2
  double x = y;
  const uint32_t top = abstop12(y);
  const SinCosPoly* p = &kSinCos[0];

  if (top < 0x3f4u) {               // |y| < pi/4 (by top 12 bits)
    if (top < 0x398u) return 1.0f;  // |y| < 2^-12
    return sincos_poly<Fused>(x, x * x, *p, 1);
  }
  if (top < 0x42fu) {  // |y| < 120: x - n*pi/2 with a double pi/2
    const double r = x * HpiInv;
    // Quadrant ends up in bits 24..31; adding 2^23 rounds to nearest.
    const int n = (static_cast<int32_t>(r) + 0x800000) >> 24;
    x = Fused ? fma(-static_cast<double>(n), Hpi, x) : x - n * Hpi;
    const double s = kSinSign[n & 3];
    if (n & 2) p = &kSinCos[1];
    return sincos_poly<Fused>(x * s, x * x, *p, n ^ 1);
  }
  if (top < 0x7f8u) {
    const uint32_t xi = f2u(y);
    const int sign = static_cast<int>(xi >> 31);
    int n;
    x = reduce_large(xi, &n);
    const double s = kSinSign[(n + sign) & 3];
    if ((n + sign) & 2) p = &kSinCos[1];
    return sincos_poly<Fused>(x * s, x * x, *p, n ^ 1);
  }
  // Inf or NaN: invalid operation, as glibc computes it.
  const float d = y - y;
  return d / d;
}

}  // namespace detail

// expm1f: fdlibm float algorithm (5-term rational-like correction).
inline float expm1f(float x) {
  SATRNN_GMATH_NO_CONTRACT
  using detail::f2u;
  using detail::u2f;
  const float ln2_hi = 0x1.62e3p-1f;     // 0x3f317180
  const float ln2_lo = 0x1.2fefa2p-17f;  // 0x3717f7d1
  const float invln2 = 0x1.715476p+0f;   // 0x3fb8aa3b
  const float Q1 = -0x1.111112p-5f;      // 0xbd088889
  const float Q2 = 0x1.a01a02p-10f;      // 0x3ad00d01
  const float Q3 = -0x1.4ce19ap-14f;     // 0xb8a670cd
  const float Q4 = 0x1.0cfca8p-18f;      // 0x36867e54
  const float Q5 = -0x1.afdb76p-23f;     // 0xb457edbb

  const uint32_t bits = f2u(x);
  const bool neg = (bits >> 31) != 0;
  const uint32_t hx = bits & 0x7fffffffu;

  if (hx >= 0x4195b844u) {    // |x| >= 27*ln2
    if (hx >= 0x42b17218u) {  // |x| >= 88.72...
      if (hx > 0x7f800000u) return x + x;               // NaN
      if (hx == 0x7f800000u) return neg ? -1.0f : x;    // +-Inf
      if (!neg) return u2f(0x7f800000u);                // overflow (x > 0x42b17180)
    }
    if (neg) return -1.0f;  // tiny - 1 rounds to -1
  }

  float c = 0.0f;
  int k;
  if (hx > 0x3eb17218u) {    // |x| > 0.5*ln2
    float hi, lo;
    if (hx < 0x3f851592u) {  // |x| < 1.5*ln2: k = +-1 without a multiply
      if (!neg) {
        hi = x - ln2_hi;
        lo = ln2_lo;
        k = 1;
      } else {
        hi = x + ln2_hi;
        lo = -ln2_lo;
        k = -1;
      }
    } else {
      k = static_cast<int>(invln2 * x + (neg ? -0.5f : 0.5f));  // truncation
      const float t = static_cast<float>(k);
      hi = x - t * ln2_hi;  // exact: ln2_hi has trailing zero bits
      lo = t * ln2_lo;
    }
    x = hi - lo;
    c = (hi - x) - lo;  // rounding error of the reduction
  } else if (hx < 0x33000000u) {
    return x;  // |x| < 2^-25: expm1(x) rounds to x (glibc's huge+x dance is an identity)
  } else {
    k = 0;
  }

  const float hfx = 0.5f * x;
  const float hxs = x * hfx;
  const float r1 = 1.0f + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
  float t = 3.0f - r1 * hfx;
  float e = hxs * ((r1 - t) / (6.0f - x * t));
  if (k == 0) return x - (x * e - hxs);

  e = x * (e - c) - c;
  e -= hxs;
  if (k == -1) return 0.5f * (x - e) - 0.5f;
  if (k == 1) {
    if (x < -0.25f) return -2.0f * (e - (x + 0.5f));
    return 1.0f + 2.0f * (x - e);
  }
  // Scale by 2^k by adding k to the exponent field (wrapping exactly like
  // glibc's int arithmetic, which matters near the overflow threshold).
  const uint32_t kexp = static_cast<uint32_t>(k) << 23;
  if (k <= -2 || k > 56) {
    const float y = 1.0f - (e - x);
    return u2f(f2u(y) + kexp) - 1.0f;
  }
  if (k < 23) {
    t = u2f(0x3f800000u - (0x1000000u >> k));  // 1 - 2^-k
    const float y = t - (e - x);
    return u2f(f2u(y) + kexp);
  }
  t = u2f(static_cast<uint32_t>(0x7f - k) << 23);  // 2^-k
  float y = x - (e + t);
  y += 1.0f;
  return u2f(f2u(y) + kexp);
}

// tanhf: fdlibm float algorithm on top of expm1f.
inline float tanhf(float x) {
  SATRNN_GMATH_NO_CONTRACT
  const uint32_t jx = detail::f2u(x);
  const uint32_t ix = jx & 0x7fffffffu;
  const bool neg = (jx >> 31) != 0;
  if (ix >= 0x7f800000u) {  // Inf -> +-1, NaN -> NaN (propagated)
    return neg ? 1.0f / x - 1.0f : 1.0f / x + 1.0f;
  }
  float z;
  if (ix < 0x41b00000u) {  // |x| < 22
    if (ix == 0) return x;  // keeps the sign of zero
    if (ix < 0x24000000u) return x * (1.0f + x);  // |x| < 2^-55
    const float ax = detail::u2f(ix);
    if (ix >= 0x3f800000u) {  // |x| >= 1
      const float t = expm1f(2.0f * ax);
      z = 1.0f - 2.0f / (t + 2.0f);
    } else {
      const float t = expm1f(-2.0f * ax);
      z = -t / (t + 2.0f);
    }
  } else {
    z = 1.0f - 1e-30f;  // rounds to exactly 1
  }
  return neg ? -z : z;
}

// logf: x = 2^k * z with z in [0x3f330000, 2*0x3f330000) as floats;
// log(x) = k*ln2 + log(c) + log1p(z/c - 1).
inline float logf(float x) {
  SATRNN_GMATH_NO_CONTRACT
  const double Ln2 = 0x1.62e42fefa39efp-1;
  const double A0 = -0x1.00ea348b88334p-2;
  const double A1 = 0x1.5575b0be00b6ap-2;
  const double A2 = -0x1.ffffef20a4123p-2;
  const uint32_t Off = 0x3f330000u;

  uint32_t ix = detail::f2u(x);
  if (ix == 0x3f800000u) return 0.0f;  // log(1) = +0 in every rounding mode
  if (ix - 0x00800000u >= 0x7f800000u - 0x00800000u) {
    // Subnormal, zero, negative, Inf or NaN.
    if (ix * 2 == 0) return -detail::u2f(0x7f800000u);  // log(+-0) = -Inf
    if (ix == 0x7f800000u) return x;                     // log(+Inf) = +Inf
    if ((ix & 0x80000000u) || ix * 2 >= 0xff000000u) {
      // Invalid: same expression as glibc, so NaN inputs propagate and
      // negative numbers give the default (negative on x86) NaN.
      const float d = x - x;
      return d / d;
    }
    ix = detail::f2u(x * 0x1p23f);  // normalise the subnormal exactly
    ix -= 23u << 23;
  }
  const uint32_t tmp = ix - Off;
  const int i = static_cast<int>((tmp >> 19) % 16);
  const int k = static_cast<int32_t>(tmp) >> 23;  // arithmetic shift
  const uint32_t iz = ix - (tmp & 0xff800000u);
  const double invc = detail::kLogfTab[i].invc;
  const double logc = detail::kLogfTab[i].logc;
  const double z = static_cast<double>(detail::u2f(iz));

  const double r = z * invc - 1.0;
  const double y0 = logc + static_cast<double>(k) * Ln2;
  const double r2 = r * r;
  double y = A1 * r + A2;
  y = A0 * r2 + y;
  y = y * r2 + (y0 + r);
  return static_cast<float>(y);
}

// expf and cosf reproduce glibc's FMA build, which x86-64 glibc selects on
// every CPU with FMA+AVX2 (the reference machine and this one); the _plain
// variants reproduce the build used on older CPUs.
inline float expf(float x) { return detail::expf_impl<true>(x); }
inline float cosf(float x) { return detail::cosf_impl<true>(x); }
inline float expf_plain(float x) { return detail::expf_impl<false>(x); }
inline float cosf_plain(float x) { return detail::cosf_impl<false>(x); }

// FNV-1a-style checksum over all 2^32 inputs (spec §7b): NaN results are
// canonicalised to 0x7fc00000 with their sign, each result is mixed in as
// one 32-bit word.
template <class F>
inline uint64_t checksum_all_f32(F f) {
  uint64_t h = 0xcbf29ce484222325ull;
  uint32_t u = 0;
  do {
    uint32_t v = detail::f2u(f(detail::u2f(u)));
    if ((v & 0x7fffffffu) > 0x7f800000u) v = 0x7fc00000u | (v & 0x80000000u);
    h = (h ^ v) * 0x100000001b3ull;
  } while (++u != 0);
  return h;
}

}  // namespace gmath
}  // namespace satrnn

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
