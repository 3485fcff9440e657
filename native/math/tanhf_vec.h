// glibc 2.36 tanhf and expm1f on 8 lanes (AVX2) or 4 lanes (SSE2), bit-identical to
// gmath::tanhf / gmath::expm1f (glibc_float.h) in every lane for all 2^32 inputs, NaN
// payloads and the sign of zero included (tools/mathcheck/tanhf_vector_check.cc).
//
// How: every branch of the scalar algorithms is computed in every lane, with the scalar
// code's operations in its order, and the lane's branch is picked by masks built from the
// same integer tests. Lanes never interact. No FMA: each a*b+c is a multiply and an add
// (contraction off as in glibc_float.h; the AVX2 target does not even include FMA).
//
// The algorithm is written once with GCC/clang vector extensions (`+`, `*`, `/` on
// vectors are the IEEE lane-wise operations, exactly like the scalar SSE ones) and
// instantiated for 8 lanes inside a target("avx2") function and for 4 lanes on the x86-64
// baseline (SSE2). Call the *_avx2 functions only after cpu_has_avx2() (core/cpu.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "glibc_float.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define SATRNN_HAVE_TANHF_VEC 1
#include <immintrin.h>
#else
#define SATRNN_HAVE_TANHF_VEC 0
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
namespace satrnn {
namespace gmath {

#if SATRNN_HAVE_TANHF_VEC
namespace lanes {

typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef float f32x4 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
typedef uint32_t u32x4 __attribute__((vector_size(16)));

// The integer vectors of a float vector: signed for comparisons (all operands are
// non-negative or small, and signed compares are single instructions), unsigned for bit
// arithmetic that must wrap like the scalar code's uint32_t.
template <class F>
struct Ints;
template <>
struct Ints<f32x8> {
  using I = i32x8;
  using U = u32x8;
};
template <>
struct Ints<f32x4> {
  using I = i32x4;
  using U = u32x4;
};

// Lane code: always inlined into the ISA's wrapper, so it is compiled for that ISA.
// Vectors go in and out by reference (a 32-byte vector passed by value outside AVX code
// would draw gcc's ABI warning). `m ? a : b` on vectors selects per lane (m all ones or
// all zeros, from a comparison); a scalar operand is broadcast.
#define SATRNN_LANES_INLINE inline __attribute__((always_inline))

// y = gmath::expm1f(x0) lane by lane.
template <class F>
SATRNN_LANES_INLINE void expm1f(const F& x0, F& y) {
  SATRNN_GMATH_NO_CONTRACT
  using I = typename Ints<F>::I;
  using U = typename Ints<F>::U;
  const float ln2_hi = 0x1.62e3p-1f;
  const float ln2_lo = 0x1.2fefa2p-17f;
  const float invln2 = 0x1.715476p+0f;
  const float Q1 = -0x1.111112p-5f;
  const float Q2 = 0x1.a01a02p-10f;
  const float Q3 = -0x1.4ce19ap-14f;
  const float Q4 = 0x1.0cfca8p-18f;
  const float Q5 = -0x1.afdb76p-23f;

  const I bits = reinterpret_cast<I>(x0);
  const I neg = bits < 0;
  const I hx = bits & 0x7fffffff;

  // Range reduction for |x| > 0.5*ln2: k = +-1 below 1.5*ln2, else k = trunc(x/ln2 +- 0.5).
  const I reduce = hx > 0x3eb17218;
  const I near1 = hx < 0x3f851592;
  const F hi1 = neg ? x0 + ln2_hi : x0 - ln2_hi;
  const F lo1 = neg ? F{} - ln2_lo : F{} + ln2_lo;
  // Lanes with |x| >= 128 (or NaN) return before the reduction: zeroing their kx keeps
  // the conversion in range.
  const F kx = hx < 0x43000000 ? invln2 * x0 + (neg ? F{} - 0.5f : F{} + 0.5f) : F{};
  const I kn = __builtin_convertvector(kx, I);  // truncation, as the scalar cast
  const F tn = __builtin_convertvector(kn, F);
  const F hi = near1 ? hi1 : x0 - tn * ln2_hi;
  const F lo = near1 ? lo1 : tn * ln2_lo;
  const F xr = hi - lo;
  const F x = reduce ? xr : x0;
  const F c = reduce ? (hi - xr) - lo : F{};
  const I k = reduce ? (near1 ? (neg | 1) : kn) : I{};

  const F hfx = 0.5f * x;
  const F hxs = x * hfx;
  const F r1 = 1.0f + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
  const F t = 3.0f - r1 * hfx;
  F e = hxs * ((r1 - t) / (6.0f - x * t));
  const F y_k0 = x - (x * e - hxs);

  e = x * (e - c) - c;
  e -= hxs;
  const F y_km1 = 0.5f * (x - e) - 0.5f;
  const F y_k1 = x < -0.25f ? -2.0f * (e - (x + 0.5f)) : 1.0f + 2.0f * (x - e);
  // 2^k by adding k to the exponent field (wrapping as the scalar uint32_t sum).
  const U kexp = reinterpret_cast<U>(k) << 23;
  const F y_far = reinterpret_cast<F>(reinterpret_cast<U>(1.0f - (e - x)) + kexp) - 1.0f;
  // p = 2^-k. For 2 <= k < 23, 1 - p is exact and has the bits 0x3f800000 - (0x1000000 >> k)
  // that the scalar code builds.
  const F p = reinterpret_cast<F>(reinterpret_cast<U>(0x7f - k) << 23);
  const F y_mid = reinterpret_cast<F>(reinterpret_cast<U>((1.0f - p) - (e - x)) + kexp);
  const F y_big = reinterpret_cast<F>(reinterpret_cast<U>((x - (e + p)) + 1.0f) + kexp);

  F r = k < 23 ? y_mid : y_big;
  r = (k <= -2) | (k > 56) ? y_far : r;
  r = k == 1 ? y_k1 : r;
  r = k == -1 ? y_km1 : r;
  r = k == 0 ? y_k0 : r;
  // The early returns, lowest precedence first.
  r = hx < 0x33000000 ? x0 : r;                          // |x| < 2^-25
  r = neg & (hx >= 0x4195b844) ? F{} - 1.0f : r;         // x <= -27*ln2, -Inf
  r = ~neg & (hx >= 0x42b17218) ? F{} + __builtin_inff() : r;  // overflow, +Inf
  y = hx > 0x7f800000 ? x0 + x0 : r;                     // NaN
}

// y = gmath::tanhf(x) lane by lane.
template <class F>
SATRNN_LANES_INLINE void tanhf(const F& x, F& y) {
  SATRNN_GMATH_NO_CONTRACT
  using I = typename Ints<F>::I;
  const I jx = reinterpret_cast<I>(x);
  const I neg = jx < 0;
  const I ix = jx & 0x7fffffff;
  const F ax = reinterpret_cast<F>(ix);
  const I ge1 = ix >= 0x3f800000;      // |x| >= 1
  const I special = ix >= 0x7f800000;  // Inf, NaN
  F t;
  expm1f<F>((ge1 ? F{} + 2.0f : F{} - 2.0f) * ax, t);
  // One division serves three branches: 2/(t+2) for |x| >= 1, -t/(t+2) below, and the
  // 1/x of the Inf/NaN branch.
  const F q = (special ? F{} + 1.0f : ge1 ? F{} + 2.0f : -t) / (special ? x : t + 2.0f);
  F z = ge1 ? 1.0f - q : q;
  z = ix >= 0x41b00000 ? F{} + 1.0f : z;  // |x| >= 22: 1 - 1e-30f rounds to 1
  F r = reinterpret_cast<F>(reinterpret_cast<I>(z) ^ (jx & INT32_MIN));  // neg ? -z : z
  r = ix < 0x24000000 ? x * (1.0f + x) : r;  // |x| < 2^-55, +-0 included (x*(1+x) = x there)
  y = special ? (neg ? q - 1.0f : q + 1.0f) : r;
}

#undef SATRNN_LANES_INLINE
}  // namespace lanes

// Eight lanes of gmath::tanhf / gmath::expm1f.
__attribute__((target("avx2"))) inline __m256 tanhf8_avx2(__m256 x) {
  lanes::f32x8 y;
  lanes::tanhf(static_cast<lanes::f32x8>(x), y);
  return reinterpret_cast<__m256>(y);
}
__attribute__((target("avx2"))) inline __m256 expm1f8_avx2(__m256 x) {
  lanes::f32x8 y;
  lanes::expm1f(static_cast<lanes::f32x8>(x), y);
  return reinterpret_cast<__m256>(y);
}
// Four lanes (x86-64 baseline).
inline __m128 tanhf4_sse2(__m128 x) {
  lanes::f32x4 y;
  lanes::tanhf(static_cast<lanes::f32x4>(x), y);
  return reinterpret_cast<__m128>(y);
}
inline __m128 expm1f4_sse2(__m128 x) {
  lanes::f32x4 y;
  lanes::expm1f(static_cast<lanes::f32x4>(x), y);
  return reinterpret_cast<__m128>(y);
}

#endif  // SATRNN_HAVE_TANHF_VEC

}  // namespace gmath
}  // namespace satrnn

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
