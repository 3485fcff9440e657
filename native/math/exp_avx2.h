// 4-lane AVX2 version of gmath::exp (glibc 2.36, non-fma), bit-identical to
// the scalar port in every lane.
//
// The functions carry __attribute__((target("avx2"))), so this header can be
// included in a translation unit built without -mavx2; call the *_avx2
// functions only after satrnn::cpu_has_avx2() (core/cpu.h) returned true.  No FMA: every product and sum is a
// separate instruction in the scalar code's order (a fused multiply-add
// would change the rounding), and contraction is switched off as in
// glibc_double.h (same build requirements: no fast-math, -ffp-contract=off
// recommended).
//
// Fast path: lanes with 2^-54 <= |x| < 512 run the table algorithm in vector
// form.  Any other lane (tiny, huge, Inf, NaN, or the [512, 1024) range that
// needs glibc's rescaling branch) is recomputed with the scalar port.
#pragma once

#include <cstddef>
#include <cstring>

#include "glibc_double.h"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define SATRNN_HAVE_EXP_AVX2 1
#include <immintrin.h>
#else
#define SATRNN_HAVE_EXP_AVX2 0
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace satrnn {
namespace gmath {

#if SATRNN_HAVE_EXP_AVX2

// The table as (tail, scale bits) pairs, so one 16-byte load fetches both values of a lane.
struct ExpPairs {
  alignas(16) double v[256];
  ExpPairs() {
    for (int j = 0; j < 128; ++j) {
      v[2 * j] = data::kExpTail[j];
      std::memcpy(&v[2 * j + 1], &data::kExpScaleBits[j], sizeof(double));
    }
  }
};
inline const ExpPairs kExpPairs;

// glibc's main path (no range tests), lane by lane: exact for 2^-54 <= |x| < 512, and for
// x = +-0 and -2^-54 < x < 0, where glibc returns 1.0 + x = 1.0: there it yields k = 0, r = x,
// tmp within (-2^-54, 2^-54)·(1 + tiny) and scale + scale*tmp = 1.0 as well (tested against
// the scalar port).
// Split in two stages so a caller can start the next vectors' exps before it finishes these
// (the table loads wait on a long chain: the reduction, a store, scalar loads of the offsets).
// Stage 1: kd + shift (k in its low bits) and the table's byte offsets, stored to `off`.
struct Exp4Started {
  __m256d x;
  __m256d kds;  // kd + shift, as rounded: kd is kds - shift, k its low bits
};
__attribute__((target("avx2"), always_inline)) inline Exp4Started exp4_start_avx2(__m256d x, long long* off) {
  SATRNN_GMATH_NO_CONTRACT
  using namespace data;
  const __m256d kds = _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(kExpInvLn2N), x), _mm256_set1_pd(kExpShift));
  // Byte offsets of the table pairs (j = k mod 128, always a valid index; 16 bytes per pair)
  // save the address arithmetic of each load.
  _mm256_store_si256(reinterpret_cast<__m256i*>(off),
                     _mm256_and_si256(_mm256_slli_epi64(_mm256_castpd_si256(kds), 4), _mm256_set1_epi64x(127 << 4)));
  return {x, kds};
}

// Stage 2: the rest of the reduction, the table lookups at the offsets stage 1 stored, and
// the result. Table lookups with scalar loads: measured faster than vgatherqpd (AMD Zen 5:
// 1.0 vs 1.6 ns/element; gathers are also slow on Intel CPUs with the GDS microcode
// mitigation). The offsets are read back through a volatile pointer, so GCC keeps the store
// and scalar loads instead of turning them into lane extracts (Avx2Ops::bits8 on AMD Zen 5:
// ~10 % slower without it).
__attribute__((target("avx2"), always_inline)) inline __m256d exp4_finish_avx2(const Exp4Started& e, const long long* off) {
  SATRNN_GMATH_NO_CONTRACT
  using namespace data;
  const __m256d kd = _mm256_sub_pd(e.kds, _mm256_set1_pd(kExpShift));
  // r = (x + kd*hi) + kd*lo, same association as the scalar code.
  const __m256d r = _mm256_add_pd(_mm256_add_pd(e.x, _mm256_mul_pd(kd, _mm256_set1_pd(kExpNegLn2HiN))),
                                  _mm256_mul_pd(kd, _mm256_set1_pd(kExpNegLn2LoN)));
  const __m256d r2 = _mm256_mul_pd(r, r);
  // tmp = ((tail + r) + r2*(C2 + r*C3)) + (r2*r2)*(C4 + r*C5)
  const __m256d p23 = _mm256_mul_pd(r2, _mm256_add_pd(_mm256_set1_pd(kExpC2), _mm256_mul_pd(r, _mm256_set1_pd(kExpC3))));
  const __m256d p45 = _mm256_mul_pd(_mm256_mul_pd(r2, r2), _mm256_add_pd(_mm256_set1_pd(kExpC4), _mm256_mul_pd(r, _mm256_set1_pd(kExpC5))));
  const char* P = reinterpret_cast<const char*>(kExpPairs.v);
  const volatile long long* o = off;
  auto pair = [P](long long b) __attribute__((target("avx2"))) { return _mm_load_pd(reinterpret_cast<const double*>(P + b)); };
  // A = [pair j0 | pair j2], B = [pair j1 | pair j3]; unpack gives tails and scale bits.
  const __m256d A = _mm256_insertf128_pd(_mm256_castpd128_pd256(pair(o[0])), pair(o[2]), 1);
  const __m256d B = _mm256_insertf128_pd(_mm256_castpd128_pd256(pair(o[1])), pair(o[3]), 1);
  const __m256d tail = _mm256_unpacklo_pd(A, B);
  // Add k << 45 to the exponent field: scale = 2^(j/128) * 2^(k >> 7).
  const __m256i sbits = _mm256_add_epi64(_mm256_castpd_si256(_mm256_unpackhi_pd(A, B)), _mm256_slli_epi64(_mm256_castpd_si256(e.kds), 45));
  const __m256d tmp = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(tail, r), p23), p45);
  const __m256d scale = _mm256_castsi256_pd(sbits);
  return _mm256_add_pd(scale, _mm256_mul_pd(scale, tmp));
}

__attribute__((target("avx2"))) inline __m256d exp4_table_avx2(__m256d x) {
  alignas(32) long long off[4];
  const Exp4Started e = exp4_start_avx2(x, off);
  return exp4_finish_avx2(e, off);
}

// Any argument: lanes outside the table path's exact range (tiny nonzero, huge, Inf, NaN,
// or the [512, 1024) range that needs glibc's rescaling branch) are redone with the scalar port.
__attribute__((target("avx2"))) inline __m256d exp4_avx2(__m256d x) {
  const __m256d ax = _mm256_and_pd(x, _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL)));
  // Ordered compares are false for NaN, so NaN lanes leave the fast path. x = +-0 stays on
  // it (exactly 1.0, as above); a softmax's own maximum always gives one such lane.
  const __m256d fast = _mm256_and_pd(
      _mm256_or_pd(_mm256_cmp_pd(ax, _mm256_set1_pd(0x1p-54), _CMP_GE_OQ),
                   _mm256_cmp_pd(ax, _mm256_setzero_pd(), _CMP_EQ_OQ)),
      _mm256_cmp_pd(ax, _mm256_set1_pd(512.0), _CMP_LT_OQ));
  const int fast_mask = _mm256_movemask_pd(fast);
  __m256d y = exp4_table_avx2(x);
  if (__builtin_expect(fast_mask != 0xf, 0)) {
    alignas(32) double in[4];
    alignas(32) double out[4];
    _mm256_store_pd(in, x);
    _mm256_store_pd(out, y);
    for (int lane = 0; lane < 4; ++lane) {
      if (!(fast_mask & (1 << lane))) out[lane] = gmath::exp(in[lane]);
    }
    y = _mm256_load_pd(out);
  }
  return y;
}

// exp for softmax arguments: the caller guarantees every lane is in (-512, 0] (x = logit - max,
// with the smallest logit checked once per row), all on the table path: no range tests.
__attribute__((target("avx2"))) inline __m256d exp4_nonpos_avx2(__m256d x) { return exp4_table_avx2(x); }

// out[i] = gmath::exp(in[i]) for i < n; in and out may be the same array.
__attribute__((target("avx2"))) inline void exp_array_avx2(const double* in, double* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, exp4_avx2(_mm256_loadu_pd(in + i)));
  for (; i < n; ++i) out[i] = gmath::exp(in[i]);
}

// The same for arguments in (-512, 0] only (tests; the softmax calls exp4_nonpos_avx2).
__attribute__((target("avx2"))) inline void exp_nonpos_array_avx2(const double* in, double* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, exp4_nonpos_avx2(_mm256_loadu_pd(in + i)));
  for (; i < n; ++i) out[i] = gmath::exp(in[i]);
}

#endif

}  // namespace gmath
}  // namespace satrnn

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
