// 8-lane AVX-512 version of gmath::exp (glibc 2.36, non-fma) for softmax arguments in
// (-512, 0], bit-identical to the scalar port in every lane: the operations of
// exp4_table_avx2 (exp_avx2.h), in the same order, on 512-bit vectors.
//
// The functions carry target attributes (SATRNN_AVX512_TARGET), so this header can be
// included in a translation unit built without -mavx512*; call them only after
// satrnn::cpu_has_avx512() (core/cpu.h) returned true. No FMA: every product and sum is a
// separate instruction in the scalar code's order, and contraction is switched off as in
// glibc_double.h (same build requirements: no fast-math, -ffp-contract=off recommended).
#pragma once

#include <cstddef>

#include "../core/cpu.h"
#include "exp_avx2.h"
#include "glibc_double.h"

#if SATRNN_HAVE_AVX512 && SATRNN_HAVE_EXP_AVX2
#define SATRNN_HAVE_EXP_AVX512 1
#else
#define SATRNN_HAVE_EXP_AVX512 0
#endif

// The instruction sets the AVX-512 kernels use (cpu_has_avx512() checks all of them).
#define SATRNN_AVX512_TARGET "avx512f,avx512dq,avx512bw,avx512vl,avx2"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
// GCC 12's AVX-512 intrinsics fill their unused pass-through operands with a self-initialised
// "undefined" vector, which -Wall reports at every use under a target attribute.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace satrnn {
namespace gmath {

#if SATRNN_HAVE_EXP_AVX512

// glibc's main path (no range tests) on eight lanes: exact for 2^-54 <= |x| < 512 and for
// x = +-0 and -2^-54 < x < 0 (glibc's 1.0 + x = 1.0 there), exactly as exp4_table_avx2.
// Split in two stages so a caller can start the next vectors' exps before it finishes these
// (the table loads wait on a long chain: the reduction, a store, scalar loads of the offsets).
// Stage 1: kd + shift (k in its low bits) and the table's byte offsets, stored to `off`.
struct Exp8Started {
  __m512d x;
  __m512d kds;  // kd + shift, as rounded: kd is kds - shift, k its low bits
};
__attribute__((target(SATRNN_AVX512_TARGET), always_inline)) inline Exp8Started exp8_start_avx512(__m512d x, long long* off) {
  SATRNN_GMATH_NO_CONTRACT
  using namespace data;
  const __m512d kds = _mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(kExpInvLn2N), x), _mm512_set1_pd(kExpShift));
  // Byte offsets of the table pairs (j = k mod 128, 16 bytes per pair) save the address
  // arithmetic of each load.
  _mm512_store_si512(off, _mm512_and_si512(_mm512_slli_epi64(_mm512_castpd_si512(kds), 4), _mm512_set1_epi64(127 << 4)));
  return {x, kds};
}

// Stage 2: the rest of the reduction, the table lookups at the offsets stage 1 stored, and
// the result. Scalar index
// loads and 16-byte pair loads: measured faster than vgatherqpd on AMD Zen 5 (0.54-0.76 vs
// 0.84-1.07 ns/element for AVX2's four lanes; the 512-bit gather was slower than AVX2).
// The offsets are read back through a volatile pointer: GCC otherwise turns the store and
// loads into lane extracts (vmovq/vpextrq/valignq), which measured ~7 % slower here.
__attribute__((target(SATRNN_AVX512_TARGET), always_inline)) inline __m512d exp8_finish_avx512(const Exp8Started& e,
                                                                                             const long long* off) {
  SATRNN_GMATH_NO_CONTRACT
  using namespace data;
  const __m512d kd = _mm512_sub_pd(e.kds, _mm512_set1_pd(kExpShift));
  // r = (x + kd*hi) + kd*lo, same association as the scalar code.
  const __m512d r = _mm512_add_pd(_mm512_add_pd(e.x, _mm512_mul_pd(kd, _mm512_set1_pd(kExpNegLn2HiN))),
                                  _mm512_mul_pd(kd, _mm512_set1_pd(kExpNegLn2LoN)));
  const __m512d r2 = _mm512_mul_pd(r, r);
  // tmp = ((tail + r) + r2*(C2 + r*C3)) + (r2*r2)*(C4 + r*C5)
  const __m512d p23 = _mm512_mul_pd(r2, _mm512_add_pd(_mm512_set1_pd(kExpC2), _mm512_mul_pd(r, _mm512_set1_pd(kExpC3))));
  const __m512d p45 = _mm512_mul_pd(_mm512_mul_pd(r2, r2), _mm512_add_pd(_mm512_set1_pd(kExpC4), _mm512_mul_pd(r, _mm512_set1_pd(kExpC5))));
  const char* P = reinterpret_cast<const char*>(kExpPairs.v);
  const volatile long long* o = off;
  auto pair = [P](long long b) __attribute__((target(SATRNN_AVX512_TARGET))) {
    return _mm_load_pd(reinterpret_cast<const double*>(P + b));
  };
  // A = pairs j0 | j2 | j4 | j6, B = pairs j1 | j3 | j5 | j7; unpack gives tails and scale bits.
  const __m256d A0 = _mm256_insertf128_pd(_mm256_castpd128_pd256(pair(o[0])), pair(o[2]), 1);
  const __m256d A1 = _mm256_insertf128_pd(_mm256_castpd128_pd256(pair(o[4])), pair(o[6]), 1);
  const __m256d B0 = _mm256_insertf128_pd(_mm256_castpd128_pd256(pair(o[1])), pair(o[3]), 1);
  const __m256d B1 = _mm256_insertf128_pd(_mm256_castpd128_pd256(pair(o[5])), pair(o[7]), 1);
  const __m512d A = _mm512_insertf64x4(_mm512_castpd256_pd512(A0), A1, 1);
  const __m512d B = _mm512_insertf64x4(_mm512_castpd256_pd512(B0), B1, 1);
  const __m512d tail = _mm512_unpacklo_pd(A, B);
  // Add k << 45 to the exponent field: scale = 2^(j/128) * 2^(k >> 7).
  const __m512i sbits = _mm512_add_epi64(_mm512_castpd_si512(_mm512_unpackhi_pd(A, B)), _mm512_slli_epi64(_mm512_castpd_si512(e.kds), 45));
  const __m512d tmp = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(tail, r), p23), p45);
  const __m512d scale = _mm512_castsi512_pd(sbits);
  return _mm512_add_pd(scale, _mm512_mul_pd(scale, tmp));
}

__attribute__((target(SATRNN_AVX512_TARGET))) inline __m512d exp8_table_avx512(__m512d x) {
  alignas(64) long long off[8];
  const Exp8Started e = exp8_start_avx512(x, off);
  return exp8_finish_avx512(e, off);
}

// exp for softmax arguments: the caller guarantees every lane is in (-512, 0] (x = logit - max,
// with the smallest logit checked once per row), all on the table path: no range tests.
__attribute__((target(SATRNN_AVX512_TARGET))) inline __m512d exp8_nonpos_avx512(__m512d x) { return exp8_table_avx512(x); }

// out[i] = gmath::exp(in[i]) for arguments in (-512, 0] only (tests and tools; the softmax
// calls exp8_nonpos_avx512); in and out may be the same array. Every element goes through
// the vector code (the last partial vector with masked lanes, which compute exp(0)).
__attribute__((target(SATRNN_AVX512_TARGET))) inline void exp_nonpos_array_avx512(const double* in, double* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_storeu_pd(out + i, exp8_nonpos_avx512(_mm512_loadu_pd(in + i)));
  if (i < n) {
    const __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
    _mm512_mask_storeu_pd(out + i, m, exp8_nonpos_avx512(_mm512_maskz_loadu_pd(m, in + i)));
  }
}

#endif

}  // namespace gmath
}  // namespace satrnn

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
