#include "core/step.h"

#include <cstring>

#include "math/glibc_float.h"
#include "math/tanhf_vec.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SATRNN_HAVE_AVX2 1
#include <immintrin.h>
#else
#define SATRNN_HAVE_AVX2 0
#endif
#if defined(__SSE2__) && !defined(SATRNN_NO_SSE2)
#define SATRNN_HAVE_SSE2 1
#include <emmintrin.h>
#else
#define SATRNN_HAVE_SSE2 0
#endif

namespace satrnn {
namespace {

// Portable loops: four rows at a time only to overlap four independent dependency chains.
void matvec_portable(const float* rows, size_t R, size_t H, const float* v, const float* init, float* out) {
  size_t r = 0;
  for (; r + 4 <= R; r += 4) {
    const float *r0 = rows + r * H, *r1 = r0 + H, *r2 = r1 + H, *r3 = r2 + H;
    float s0 = init[r], s1 = init[r + 1], s2 = init[r + 2], s3 = init[r + 3];
    for (size_t j = 0; j < H; ++j) {
      const float vj = v[j];
      s0 = s0 + r0[j] * vj;
      s1 = s1 + r1[j] * vj;
      s2 = s2 + r2[j] * vj;
      s3 = s3 + r3[j] * vj;
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  for (; r < R; ++r) {
    const float* row = rows + r * H;
    float s = init[r];
    for (size_t j = 0; j < H; ++j) s = s + row[j] * v[j];
    out[r] = s;
  }
}

#if SATRNN_HAVE_SSE2
// Four blocks of four rows per pass (four chains in flight).
void matvec_sse2(const float* blk, size_t nblocks, size_t H, const float* v, const float* init, float* out) {
  size_t b = 0;
  for (; b + 4 <= nblocks; b += 4) {
    const float* p0 = blk + b * H * 4;
    const float *p1 = p0 + H * 4, *p2 = p1 + H * 4, *p3 = p2 + H * 4;
    __m128 a0 = _mm_loadu_ps(init + 4 * b), a1 = _mm_loadu_ps(init + 4 * b + 4);
    __m128 a2 = _mm_loadu_ps(init + 4 * b + 8), a3 = _mm_loadu_ps(init + 4 * b + 12);
    for (size_t j = 0; j < H; ++j) {
      const __m128 vj = _mm_set1_ps(v[j]);
      a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(p0 + 4 * j), vj));
      a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(p1 + 4 * j), vj));
      a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_loadu_ps(p2 + 4 * j), vj));
      a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_loadu_ps(p3 + 4 * j), vj));
    }
    _mm_storeu_ps(out + 4 * b, a0);
    _mm_storeu_ps(out + 4 * b + 4, a1);
    _mm_storeu_ps(out + 4 * b + 8, a2);
    _mm_storeu_ps(out + 4 * b + 12, a3);
  }
  for (; b < nblocks; ++b) {
    const float* p = blk + b * H * 4;
    __m128 a = _mm_loadu_ps(init + 4 * b);
    for (size_t j = 0; j < H; ++j) a = _mm_add_ps(a, _mm_mul_ps(_mm_loadu_ps(p + 4 * j), _mm_set1_ps(v[j])));
    _mm_storeu_ps(out + 4 * b, a);
  }
}
#endif

#if SATRNN_HAVE_SSE2 && SATRNN_HAVE_TANHF_VEC
// z[i] = tanhf(z[i]) for i < n, n a multiple of 4.
void tanhf_sse2(float* z, size_t n) {
  for (size_t i = 0; i < n; i += 4) _mm_storeu_ps(z + i, gmath::tanhf4_sse2(_mm_loadu_ps(z + i)));
}
#endif

#if SATRNN_HAVE_AVX2
// z[i] = tanhf(z[i]) for i < n, n a multiple of 8.
__attribute__((target("avx2"))) void tanhf_avx2(float* z, size_t n) {
  for (size_t i = 0; i < n; i += 8) _mm256_storeu_ps(z + i, gmath::tanhf8_avx2(_mm256_loadu_ps(z + i)));
}

// G independent 8-lane dot products along j (G accumulators give the adds room to overlap).
template <int G>
__attribute__((target("avx2"))) inline void packed_dots(const float* packed, size_t H, const float* v,
                                                        const float* init, float* out) {
  __m256 acc[G];
#pragma GCC unroll 8
  for (int b = 0; b < G; ++b) acc[b] = _mm256_loadu_ps(init + b * 8);
  for (size_t j = 0; j < H; ++j) {
    const __m256 vj = _mm256_set1_ps(v[j]);
    const float* pj = packed + j * 8;
#pragma GCC unroll 8
    for (int b = 0; b < G; ++b) acc[b] = _mm256_add_ps(acc[b], _mm256_mul_ps(_mm256_loadu_ps(pj + b * H * 8), vj));
  }
#pragma GCC unroll 8
  for (int b = 0; b < G; ++b) _mm256_storeu_ps(out + b * 8, acc[b]);
}

__attribute__((target("avx2"))) void matvec_avx2(const float* packed, size_t nb, size_t H, const float* v,
                                                 const float* init, float* out) {
  size_t b = 0;
  for (; b + 8 <= nb; b += 8) packed_dots<8>(packed + b * H * 8, H, v, init + b * 8, out + b * 8);
  for (; b + 4 <= nb; b += 4) packed_dots<4>(packed + b * H * 8, H, v, init + b * 8, out + b * 8);
  for (; b + 2 <= nb; b += 2) packed_dots<2>(packed + b * H * 8, H, v, init + b * 8, out + b * 8);
  for (; b < nb; ++b) packed_dots<1>(packed + b * H * 8, H, v, init + b * 8, out + b * 8);
}
#endif

// z[i] = tanhf(z[i]) for i < H. The vector versions give gmath::tanhf's bits in every lane
// (all 2^32 inputs checked) and also run over the padding rows, up to `rows`.
void tanhf_rows(Isa isa, float* z, size_t H, size_t rows) {
#if SATRNN_HAVE_AVX2
  if (uses_avx2(isa)) return tanhf_avx2(z, rows);
#endif
#if SATRNN_HAVE_SSE2 && SATRNN_HAVE_TANHF_VEC
  if (isa == Isa::Sse2) return tanhf_sse2(z, rows);
#endif
  (void)rows;
  for (size_t i = 0; i < H; ++i) z[i] = gmath::tanhf(z[i]);
}

}  // namespace

size_t lanes(Isa isa) {
#if SATRNN_HAVE_AVX2
  if (uses_avx2(isa)) return 8;
#endif
#if SATRNN_HAVE_SSE2
  if (isa == Isa::Sse2) return 4;
#endif
  (void)isa;
  return 1;
}

void pack_rows(const float* rows, size_t R, size_t H, size_t L, float* dst) {
  if (L == 1) {
    std::memcpy(dst, rows, R * H * sizeof(float));
    return;
  }
  for (size_t r = 0; r < R; ++r) {
    float* d = dst + (r / L) * H * L + (r % L);
    const float* src = rows + r * H;
    for (size_t j = 0; j < H; ++j) d[j * L] = src[j];
  }
}

void packed_matvec(Isa isa, const float* packed, size_t R, size_t H, const float* v, const float* init, float* out) {
  const size_t L = lanes(isa);
  const size_t nb = (R + L - 1) / L;
#if SATRNN_HAVE_AVX2
  if (L == 8) return matvec_avx2(packed, nb, H, v, init, out);
#endif
#if SATRNN_HAVE_SSE2
  if (L == 4) return matvec_sse2(packed, nb, H, v, init, out);
#endif
  matvec_portable(packed, nb, H, v, init, out);
}

StepKernel::StepKernel(size_t H, Isa isa) : H_(H), isa_(isa) {
  const size_t L = lanes(isa);
  rows_ = (H + L - 1) / L * L;
  packed_.assign(rows_ * H, 0.0f);
  z_.assign(rows_, 0.0f);
}

void StepKernel::prepare(const float* Wh) { pack_rows(Wh, H_, H_, lanes(isa_), packed_.data()); }

void StepKernel::step(const float* Wx, const float* bh, const float* h, uint8_t x, float* hn, float* pre) {
  const size_t H = H_;
  float* z = z_.data();
  for (size_t i = 0; i < H; ++i) z[i] = bh[i] + Wx[i * 256 + x];
  packed_matvec(isa_, packed_.data(), H, H, h, z, z);
  if (pre) std::memcpy(pre, z, H * sizeof(float));
  tanhf_rows(isa_, z, H, rows_);
  std::memcpy(hn, z, H * sizeof(float));
}

}  // namespace satrnn
