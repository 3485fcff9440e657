// sat_train kernels, bit-exact (spec sat_train.md). See train.h for the API.
//
// Exactness rules (spec §"Notation", 00-common §7): every float operation is one binary32
// operation in the spec's order; no FMA (build with -ffp-contract=off); glibc-2.36-exact
// tanhf/expf/logf/cosf from math/glibc_float.h; sqrtf is the IEEE square root.
//
// The AVX2 kernels vectorise only across independent outputs (8 lanes = 8 outputs), so
// every lane performs exactly the scalar operation sequence (separate mul and add, never
// FMA); they are therefore bit-identical with the scalar kernels. Sequential float
// reductions that the spec orders along one axis (the recurrent sum over j, the readout
// over j, dh over o, dnext over i) keep that order inside each lane. The global gradient
// norm is a single sequential float sum and stays scalar in both paths; it skips only
// gradient entries that are exactly +0 by construction (dWx columns of bytes that did
// not occur in the window): adding fround(0*0) = +0 to a sum that is >= +0 is the
// identity, so the result is unchanged.
#include "train.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "cpu.h"
#include "math/glibc_float.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SATRNN_TRAIN_AVX2 1
#include <immintrin.h>
#else
#define SATRNN_TRAIN_AVX2 0
#endif

namespace satrnn {
namespace {

// glibc srand/rand (TYPE_3 additive feedback, spec 00-common §9).
class GlibcRand {
 public:
  explicit GlibcRand(uint32_t seed) {
    if (seed == 0) seed = 1;
    int32_t word = static_cast<int32_t>(seed);
    r_[0] = static_cast<uint32_t>(word);
    for (int i = 1; i < 31; ++i) {
      const int32_t hi = word / 127773;
      const int32_t lo = word % 127773;
      word = 16807 * lo - 2836 * hi;
      if (word < 0) word += 2147483647;
      r_[i] = static_cast<uint32_t>(word);
    }
    pos_ = 34 % 31;  // r[31..33] = r[0..2] already sit in those ring slots
    for (int k = 0; k < 310; ++k) next();
  }
  int32_t rand() { return static_cast<int32_t>(next() >> 1); }

 private:
  uint32_t next() {
    int j = pos_ - 3;
    if (j < 0) j += 31;
    const uint32_t v = r_[pos_] + r_[j];
    r_[pos_] = v;
    pos_ = pos_ + 1 == 31 ? 0 : pos_ + 1;
    return v;
  }
  uint32_t r_[31];
  int pos_;
};

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// logf(2.0f) as a float (bits 0x3f317218), the denominator factor of both bpc values.
inline float ln2f() { return gmath::logf(2.0f); }

// Mutable views of one parameter (or gradient) array.
struct Params {
  float* Wx;
  float* Wh;
  float* bh;
  float* Wy;
  float* by;
  Params(float* p, size_t H)
      : Wx(p), Wh(p + H * kVocab), bh(Wh + H * H), Wy(bh + H), by(Wy + kVocab * H) {}
};

// glibc expf as the reference machine computes it (its FMA build, gmath::expf). That build
// and the plain one (gmath::expf_plain, no fused multiply-adds, cheaper without hardware
// FMA) differ on exactly two of the 2^32 float inputs (exhaustive comparison of the two
// ports), so the plain code serves every other input.
inline float expf_exact(float x) {
  const uint32_t u = gmath::detail::f2u(x);
  if (u == 0x4202422fu || u == 0xc27c65d9u) return gmath::expf(x);  // 0x1.04845ep+5, -0x1.f8cbb2p+5
  return gmath::expf_plain(x);
}

// Per-prediction loss from the float probabilities (spec: 1e-8f floor, glibc logf).
inline float pred_loss(const float* prob, uint8_t target) {
  float q = prob[target];
  const float floor = 1e-8f;
  if (q < floor) q = floor;
  return -gmath::logf(q);
}

// Float softmax of logit[0..255] into prob (spec "Softmax, all float"); logit may alias prob.
inline void softmax_scalar(const float* logit, float* prob) {
  float m = logit[0];
  for (int o = 1; o < kVocab; ++o)
    if (logit[o] > m) m = logit[o];
  float e[kVocab];
  float sum = 0.0f;
  for (int o = 0; o < kVocab; ++o) {
    e[o] = expf_exact(logit[o] - m);
    sum = sum + e[o];
  }
  for (int o = 0; o < kVocab; ++o) prob[o] = e[o] / sum;
}

// ---------------------------------------------------------------------------------------
// Scalar kernels (CPUs without AVX2): the spec's loops; on x86-64 the forward sums use the
// baseline SSE2, lane by lane in the same order (see below).

// rows [R][H] -> blocks of L rows stored j-major, [ceil(R/L)][H][L]: lane l of block b is
// row L*b + l (padding lanes keep what dst held, zeros when the caller zero-filled it).
inline void pack_rows(const float* rows, size_t R, size_t H, size_t L, float* dst) {
  for (size_t r = 0; r < R; ++r) {
    float* d = dst + (r / L) * H * L + (r % L);
    const float* src = rows + r * H;
    for (size_t j = 0; j < H; ++j) d[j * L] = src[j];
  }
}

struct ScalarKernels {
  // On x86-64 the baseline SSE2 packs four units/outputs per instruction: Wh and Wy are
  // copied (by prepare(), whenever the weights changed) into blocks of four rows stored
  // j-major, [i/4][j][4], so one 16-byte load gives term j of four sums. Each lane still
  // adds its terms in j order with a separate multiply and add: the same bits as the
  // one-sum-at-a-time loops used on other architectures.
  size_t H;
#if defined(__SSE2__) && !defined(SATRNN_NO_SSE2)  // SATRNN_NO_SSE2: build the portable loops (tests)
  size_t nb;               // blocks of four hidden units (zero-padded)
  std::vector<float> whp;  // [nb][H][4]
  std::vector<float> wyp;  // [64][H][4]
  std::vector<float> z;    // [nb*4]
  explicit ScalarKernels(size_t h) : H(h), nb((h + 3) / 4), whp(nb * h * 4, 0.0f), wyp(kVocab * h), z(nb * 4) {}
  void prepare(const float* w, size_t) {
    pack_rows(w + H * kVocab, H, H, 4, whp.data());
    pack_rows(w + H * kVocab + H * H + H, kVocab, H, 4, wyp.data());
  }
  // out[4b+l] = init[4b+l] + sum over j in order of float(blk[b][j][l] * v[j]), for blocks
  // b < nblocks; four blocks at a time so four dependency chains overlap.
  __attribute__((noinline)) static void packed_matvec4(const float* blk, size_t nblocks, size_t H, const float* v, const float* init, float* out) {
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
    for (; b < nblocks; ++b) one_block(blk + b * H * 4, H, v, init + 4 * b, out + 4 * b);
  }
  static void one_block(const float* p, size_t H, const float* v, const float* init, float* out) {
    __m128 a = _mm_loadu_ps(init);
    for (size_t j = 0; j < H; ++j) a = _mm_add_ps(a, _mm_mul_ps(_mm_loadu_ps(p + 4 * j), _mm_set1_ps(v[j])));
    _mm_storeu_ps(out, a);
  }

  // hn = step(h, x): z = bh + Wx[x], then the H recurrent products left to right.
  void step(const float* w, size_t, const float* h, uint8_t x, float* hn) {
    const float* Wx = w;
    const float* bh = w + H * kVocab + H * H;
    for (size_t i = 0; i < H; ++i) z[i] = bh[i] + Wx[i * kVocab + x];
    packed_matvec4(whp.data(), nb, H, h, z.data(), z.data());
    for (size_t i = 0; i < H; ++i) hn[i] = gmath::tanhf(z[i]);
  }

  // prob = softmax(by + Wy·hn), all float, each logit summed over j in order.
  void readout(const float* w, size_t, const float* hn, float* prob) const {
    const float* by = w + param_count(H) - kVocab;
    float logit[kVocab];
    packed_matvec4(wyp.data(), kVocab / 4, H, hn, by, logit);
    softmax_scalar(logit, prob);
  }
#else
  explicit ScalarKernels(size_t h) : H(h) {}
  void prepare(const float*, size_t) {}

  // hn = step(h, x): z = bh + Wx[x], then the H recurrent products left to right.
  // Four units at a time (four independent chains, each in the spec's order).
  void step(const float* w, size_t, const float* h, uint8_t x, float* hn) const {
    const float* Wx = w;
    const float* Wh = w + H * kVocab;
    const float* bh = Wh + H * H;
    size_t i = 0;
    for (; i + 4 <= H; i += 4) {
      float z[4];
      dots4(Wh + i * H, H, h, bh[i] + Wx[i * kVocab + x], bh[i + 1] + Wx[(i + 1) * kVocab + x],
            bh[i + 2] + Wx[(i + 2) * kVocab + x], bh[i + 3] + Wx[(i + 3) * kVocab + x], z);
      for (int l = 0; l < 4; ++l) hn[i + l] = gmath::tanhf(z[l]);
    }
    for (; i < H; ++i) hn[i] = gmath::tanhf(dot1(Wh + i * H, H, h, bh[i] + Wx[i * kVocab + x]));
  }

  // prob = softmax(by + Wy·hn), all float, each logit summed over j in order.
  void readout(const float* w, size_t, const float* hn, float* prob) const {
    const float* Wy = w + H * kVocab + H * H + H;
    const float* by = Wy + kVocab * H;
    float logit[kVocab];
    for (int o = 0; o < kVocab; o += 4)
      dots4(Wy + static_cast<size_t>(o) * H, H, hn, by[o], by[o + 1], by[o + 2], by[o + 3],
            logit + o);
    softmax_scalar(logit, prob);
  }
#endif

  // s = init, then s += row[j]*v[j] for j = 0..H-1 in order.
  static float dot1(const float* row, size_t H, const float* v, float s) {
    for (size_t j = 0; j < H; ++j) {
      const float p = row[j] * v[j];
      s = s + p;
    }
    return s;
  }
  // The same for four consecutive rows (stride H) at once.
  static void dots4(const float* rows, size_t H, const float* v, float s0, float s1, float s2,
                    float s3, float* out) {
    const float* r0 = rows;
    const float* r1 = rows + H;
    const float* r2 = rows + 2 * H;
    const float* r3 = rows + 3 * H;
    for (size_t j = 0; j < H; ++j) {
      const float vj = v[j];
      s0 = s0 + r0[j] * vj;
      s1 = s1 + r1[j] * vj;
      s2 = s2 + r2[j] * vj;
      s3 = s3 + r3[j] * vj;
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
  }

  // y[j] = fround(y[j] + fround(a[j] * c)), independent per j. Unrolled by 4 so that
  // gcc -O2 may pack the four independent lanes into one SSE2 operation (exact: no
  // cross-lane arithmetic).
  static void axpy(float* __restrict y, const float* __restrict a, float c, size_t n) {
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
      const float y0 = y[j] + a[j] * c;
      const float y1 = y[j + 1] + a[j + 1] * c;
      const float y2 = y[j + 2] + a[j + 2] * c;
      const float y3 = y[j + 3] + a[j + 3] * c;
      y[j] = y0;
      y[j + 1] = y1;
      y[j + 2] = y2;
      y[j + 3] = y3;
    }
    for (; j < n; ++j) y[j] = y[j] + a[j] * c;
  }

  // Backward steps b, c (without dnext), e-row updates and f of one time step.
  // dy[256] given; computes dh (Wy sum + dnext), dr, updates gradients, new dnext.
  void backward(const float* w, size_t H, float* g, const float* dy, const float* hn,
                const float* hp, uint8_t x, float* dh, float* dr, float* dnext) const {
    Params W(const_cast<float*>(w), H);
    Params G(g, H);
    // b. output-layer gradients.
    for (int o = 0; o < kVocab; ++o) {
      G.by[o] = G.by[o] + dy[o];
      float* grow = G.Wy + static_cast<size_t>(o) * H;
      const float d = dy[o];
      axpy(grow, hn, d, H);
    }
    // c. dh[j] = sum over o in order of Wy[o][j]*dy[o], then + dnext[j].
    for (size_t j = 0; j < H; ++j) dh[j] = 0.0f;
    for (int o = 0; o < kVocab; ++o) {
      const float* row = W.Wy + static_cast<size_t>(o) * H;
      const float d = dy[o];
      axpy(dh, row, d, H);
    }
    for (size_t j = 0; j < H; ++j) dh[j] = dh[j] + dnext[j];
    // d. dr = dh * (1 - hn*hn).
    for (size_t i = 0; i < H; ++i) dr[i] = dh[i] * (1.0f - hn[i] * hn[i]);
    // e. hidden-layer gradients.
    for (size_t i = 0; i < H; ++i) {
      const float r = dr[i];
      G.bh[i] = G.bh[i] + r;
      G.Wx[i * kVocab + x] = G.Wx[i * kVocab + x] + r;
      float* grow = G.Wh + i * H;
      axpy(grow, hp, r, H);
    }
    // f. dnext[j] = sum over i in order of Wh[i][j]*dr[i].
    for (size_t j = 0; j < H; ++j) dnext[j] = 0.0f;
    for (size_t i = 0; i < H; ++i) {
      const float* row = W.Wh + i * H;
      const float r = dr[i];
      axpy(dnext, row, r, H);
    }
  }

  // w -= fround(k * g) for all n parameters.
  void update(float* w, const float* g, size_t n, float k) const {
    for (size_t i = 0; i < n; ++i) w[i] = w[i] - k * g[i];
  }
};

#if SATRNN_TRAIN_AVX2
#define SATRNN_AVX2 __attribute__((target("avx2")))
#define SATRNN_AVX2_FMA __attribute__((target("avx2,fma")))

// ---------------------------------------------------------------------------------------
// AVX2 kernels. Lane l of a vector is one independent output (hidden unit, output byte or
// column j); each lane runs the scalar kernel's exact operation sequence.

// Eight glibc expf results (FMA build, as gmath::expf) with hardware FMA: the same
// operations as gmath::detail::expf_impl<true> in every lane (4 doubles at a time). Lanes
// outside the main path (|x| >= 88, Inf, NaN) are recomputed with the scalar port.
SATRNN_AVX2_FMA void expf8(const float* x, float* out) {
  const __m256 xv = _mm256_loadu_ps(x);
  // abstop = (bits >> 20) & 0x7ff >= 0x42b  <=>  (bits & 0x7fffffff) >= 0x42b00000
  const __m256i ab = _mm256_and_si256(_mm256_castps_si256(xv), _mm256_set1_epi32(0x7fffffff));
  const __m256i big = _mm256_cmpgt_epi32(ab, _mm256_set1_epi32(0x42afffff));
  const __m256d InvLn2N = _mm256_set1_pd(0x1.71547652b82fep+0 * 32);
  const __m256d Shift = _mm256_set1_pd(0x1.8p+52);
  const __m256d C0 = _mm256_set1_pd(0x1.c6af84b912394p-5 / (32.0 * 32.0 * 32.0));
  const __m256d C1 = _mm256_set1_pd(0x1.ebfce50fac4f3p-3 / (32.0 * 32.0));
  const __m256d C2 = _mm256_set1_pd(0x1.62e42ff0c52d6p-1 / 32.0);
  const __m256d One = _mm256_set1_pd(1.0);
  const long long* tab = reinterpret_cast<const long long*>(gmath::detail::kExp2fTab);
  __m128 res[2];
  for (int half = 0; half < 2; ++half) {
    const __m256d xd = _mm256_cvtps_pd(half ? _mm256_extractf128_ps(xv, 1) : _mm256_castps256_ps128(xv));
    __m256d kd = _mm256_fmadd_pd(InvLn2N, xd, Shift);
    const __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, Shift);
    const __m256d r = _mm256_fmsub_pd(InvLn2N, xd, kd);
    const __m256i idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
    const __m256i t = _mm256_i64gather_epi64(tab, idx, 8);
    const __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
    const __m256d r2 = _mm256_mul_pd(r, r);
    const __m256d p = _mm256_fmadd_pd(C0, r, C1);
    __m256d y = _mm256_fmadd_pd(C2, r, One);
    y = _mm256_fmadd_pd(p, r2, y);
    y = _mm256_mul_pd(y, s);
    res[half] = _mm256_cvtpd_ps(y);
  }
  _mm_storeu_ps(out, res[0]);
  _mm_storeu_ps(out + 4, res[1]);
  if (!_mm256_testz_si256(big, big))
    for (int l = 0; l < 8; ++l) out[l] = gmath::expf(x[l]);
}

// Float softmax (spec order): vector max (exact; with NaN logits every probability is NaN
// either way), expf per lane, the 256-term sum strictly in order, true divisions.
SATRNN_AVX2 void softmax_avx2(const float* logit, float* prob, bool fma) {
  __m256 mv = _mm256_loadu_ps(logit);
  for (int o = 8; o < kVocab; o += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(logit + o));
  alignas(32) float mx[8];
  _mm256_store_ps(mx, mv);
  float m = mx[0];
  for (int l = 1; l < 8; ++l)
    if (mx[l] > m) m = mx[l];
  alignas(32) float d[kVocab], e[kVocab];
  const __m256 mb = _mm256_set1_ps(m);
  for (int o = 0; o < kVocab; o += 8)
    _mm256_store_ps(d + o, _mm256_sub_ps(_mm256_loadu_ps(logit + o), mb));
  if (fma) {
    for (int o = 0; o < kVocab; o += 8) expf8(d + o, e + o);
  } else {
    for (int o = 0; o < kVocab; ++o) e[o] = expf_exact(d[o]);
  }
  float sum = 0.0f;
  for (int o = 0; o < kVocab; ++o) sum = sum + e[o];
  const __m256 sv = _mm256_set1_ps(sum);
  for (int o = 0; o < kVocab; o += 8)
    _mm256_storeu_ps(prob + o, _mm256_div_ps(_mm256_load_ps(e + o), sv));
}

// out[b*8 + l] (b < G) = init[b*8 + l] + sum over j in order of packed[(b*H + j)*8 + l] * v[j]:
// G independent 8-lane dot products along j (G accumulators give the adds room to overlap).
template <int G>
SATRNN_AVX2 inline void packed_dots(const float* packed, size_t H, const float* v, const float* init,
                                    float* out) {
  __m256 acc[G];
#pragma GCC unroll 8
  for (int b = 0; b < G; ++b) acc[b] = _mm256_loadu_ps(init + b * 8);
  for (size_t j = 0; j < H; ++j) {
    const __m256 vj = _mm256_set1_ps(v[j]);
    const float* pj = packed + j * 8;
#pragma GCC unroll 8
    for (int b = 0; b < G; ++b)
      acc[b] = _mm256_add_ps(acc[b], _mm256_mul_ps(_mm256_loadu_ps(pj + b * H * 8), vj));
  }
#pragma GCC unroll 8
  for (int b = 0; b < G; ++b) _mm256_storeu_ps(out + b * 8, acc[b]);
}

// All nb blocks of a packed [nb][H][8] matrix (see packed_dots), in groups of 8/4/2/1.
SATRNN_AVX2 void packed_matvec(const float* packed, size_t nb, size_t H, const float* v,
                               const float* init, float* out) {
  size_t b = 0;
  for (; b + 8 <= nb; b += 8) packed_dots<8>(packed + b * H * 8, H, v, init + b * 8, out + b * 8);
  for (; b + 4 <= nb; b += 4) packed_dots<4>(packed + b * H * 8, H, v, init + b * 8, out + b * 8);
  for (; b + 2 <= nb; b += 2) packed_dots<2>(packed + b * H * 8, H, v, init + b * 8, out + b * 8);
  for (; b < nb; ++b) packed_dots<1>(packed + b * H * 8, H, v, init + b * 8, out + b * 8);
}

// For the column block [j0, j0 + 8G): acc[j] = 0, then for k = 0..R-1 in order
//   acc[j] += A[k][j] * c[k]   and   Gm[k][j] += c[k] * v[j]
// (rows of stride H). Used for dh/dWy (A = Wy) and dnext/dWh (A = Wh).
template <int G>
SATRNN_AVX2 inline void colsum_outer(const float* A, float* Gm, const float* c, const float* v,
                                     size_t R, size_t H, size_t j0, float* acc_out) {
  __m256 acc[G], vv[G];
#pragma GCC unroll 8
  for (int b = 0; b < G; ++b) {
    acc[b] = _mm256_setzero_ps();
    vv[b] = _mm256_loadu_ps(v + j0 + b * 8);
  }
  for (size_t k = 0; k < R; ++k) {
    const __m256 ck = _mm256_set1_ps(c[k]);
    const float* a = A + k * H + j0;
    float* g = Gm + k * H + j0;
#pragma GCC unroll 8
    for (int b = 0; b < G; ++b) {
      acc[b] = _mm256_add_ps(acc[b], _mm256_mul_ps(_mm256_loadu_ps(a + b * 8), ck));
      _mm256_storeu_ps(g + b * 8, _mm256_add_ps(_mm256_loadu_ps(g + b * 8), _mm256_mul_ps(ck, vv[b])));
    }
  }
#pragma GCC unroll 8
  for (int b = 0; b < G; ++b) _mm256_storeu_ps(acc_out + j0 + b * 8, acc[b]);
}

SATRNN_AVX2 void colsum_outer_all(const float* A, float* Gm, const float* c, const float* v,
                                  size_t R, size_t H, float* acc_out) {
  const size_t full = H / 8;
  size_t b = 0;
  for (; b + 4 <= full; b += 4) colsum_outer<4>(A, Gm, c, v, R, H, b * 8, acc_out);
  for (; b + 2 <= full; b += 2) colsum_outer<2>(A, Gm, c, v, R, H, b * 8, acc_out);
  for (; b < full; ++b) colsum_outer<1>(A, Gm, c, v, R, H, b * 8, acc_out);
  // Remaining columns (H % 8): the scalar loop, same per-column order.
  for (size_t j = full * 8; j < H; ++j) {
    float s = 0.0f;
    for (size_t k = 0; k < R; ++k) {
      s = s + A[k * H + j] * c[k];
      Gm[k * H + j] = Gm[k * H + j] + c[k] * v[j];
    }
    acc_out[j] = s;
  }
}

SATRNN_AVX2 void update_avx2(float* w, const float* g, size_t n, float k) {
  const __m256 kv = _mm256_set1_ps(k);
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(kv, _mm256_loadu_ps(g + i))));
  for (; i < n; ++i) w[i] = w[i] - k * g[i];
}

struct Avx2Kernels {
  size_t H, nb;
  bool fma;
  std::vector<float> whp;  // Wh packed [nb][H][8], lane l of block b = unit 8b+l (0-padded)
  std::vector<float> wyp;  // Wy packed [32][H][8], lane l of block b = output 8b+l
  std::vector<float> zin;  // per-step z initial values bh + Wx[x], padded to nb*8
  std::vector<float> zout;

  explicit Avx2Kernels(size_t h)
      : H(h), nb((h + 7) / 8), fma(__builtin_cpu_supports("fma")), whp(nb * h * 8, 0.0f),
        wyp(static_cast<size_t>(kVocab) * h, 0.0f), zin(nb * 8, 0.0f), zout(nb * 8, 0.0f) {}

  void prepare(const float* w, size_t) {
    pack_rows(w + H * kVocab, H, H, 8, whp.data());
    pack_rows(w + H * kVocab + H * H + H, kVocab, H, 8, wyp.data());
  }

  void step(const float* w, size_t, const float* h, uint8_t x, float* hn) {
    const float* Wx = w;
    const float* bh = w + H * kVocab + H * H;
    for (size_t i = 0; i < H; ++i) zin[i] = bh[i] + Wx[i * kVocab + x];
    packed_matvec(whp.data(), nb, H, h, zin.data(), zout.data());
    for (size_t i = 0; i < H; ++i) hn[i] = gmath::tanhf(zout[i]);
  }

  void readout(const float* w, size_t, const float* hn, float* prob) {
    const float* by = w + param_count(H) - kVocab;
    alignas(32) float logit[kVocab];
    packed_matvec(wyp.data(), kVocab / 8, H, hn, by, logit);
    softmax_avx2(logit, prob, fma);
  }

  void backward(const float* w, size_t, float* g, const float* dy, const float* hn,
                const float* hp, uint8_t x, float* dh, float* dr, float* dnext) {
    Params W(const_cast<float*>(w), H);
    Params Gp(g, H);
    backward_avx2(W, Gp, H, dy, hn, hp, x, dh, dr, dnext);
  }

  static SATRNN_AVX2 void backward_avx2(const Params& W, const Params& Gp, size_t H, const float* dy,
                                        const float* hn, const float* hp, uint8_t x, float* dh,
                                        float* dr, float* dnext) {
    // b. dby += dy.
    for (int o = 0; o < kVocab; o += 8)
      _mm256_storeu_ps(Gp.by + o, _mm256_add_ps(_mm256_loadu_ps(Gp.by + o), _mm256_loadu_ps(dy + o)));
    // b + c. dWy[o][j] += dy[o]*hn[j]; dh[j] = sum_o Wy[o][j]*dy[o].
    colsum_outer_all(W.Wy, Gp.Wy, dy, hn, kVocab, H, dh);
    // c (end) and d: dh += dnext; dr = dh * (1 - hn*hn).
    size_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= H; i += 8) {
      const __m256 d = _mm256_add_ps(_mm256_loadu_ps(dh + i), _mm256_loadu_ps(dnext + i));
      const __m256 hv = _mm256_loadu_ps(hn + i);
      _mm256_storeu_ps(dr + i, _mm256_mul_ps(d, _mm256_sub_ps(one, _mm256_mul_ps(hv, hv))));
    }
    for (; i < H; ++i) {
      const float d = dh[i] + dnext[i];
      dr[i] = d * (1.0f - hn[i] * hn[i]);
    }
    // e. dbh += dr; dWx[i][x] += dr[i].
    for (i = 0; i < H; ++i) {
      Gp.bh[i] = Gp.bh[i] + dr[i];
      Gp.Wx[i * kVocab + x] = Gp.Wx[i * kVocab + x] + dr[i];
    }
    // e + f. dWh[i][j] += dr[i]*hp[j]; dnext[j] = sum_i Wh[i][j]*dr[i].
    colsum_outer_all(W.Wh, Gp.Wh, dr, hp, H, H, dnext);
  }

  void update(float* w, const float* g, size_t n, float k) const { update_avx2(w, g, n, k); }
};
#endif  // SATRNN_TRAIN_AVX2

// ---------------------------------------------------------------------------------------
// Shared drivers (the kernels object K selects scalar or AVX2 inner loops).

// Gradient norm (spec step 4): one sequential float sum in the stated order, skipping
// the dWx columns of bytes absent from the window (exactly +0, see the file comment).
float grad_norm(const float* g, size_t H, const uint8_t* cols, int ncols) {
  Params G(const_cast<float*>(g), H);
  float nrm = 0.0f;
  for (size_t i = 0; i < H; ++i) {
    const float* gx = G.Wx + i * kVocab;
    for (int c = 0; c < ncols; ++c) {
      const float v = gx[cols[c]];
      nrm = nrm + v * v;
    }
    const float* gh = G.Wh + i * H;
    for (size_t j = 0; j < H; ++j) nrm = nrm + gh[j] * gh[j];
    nrm = nrm + G.bh[i] * G.bh[i];
  }
  for (int o = 0; o < kVocab; ++o) {
    const float* gy = G.Wy + static_cast<size_t>(o) * H;
    for (size_t j = 0; j < H; ++j) nrm = nrm + gy[j] * gy[j];
    nrm = nrm + G.by[o] * G.by[o];
  }
  return std::sqrt(nrm);
}

template <class K>
double train_epoch_impl(float* w, const uint8_t* data, size_t len, float lr,
                        const TrainParams& p, const std::atomic<bool>* cancel) {
  const size_t H = p.H;
  const size_t B = static_cast<size_t>(p.bptt);
  const size_t n = param_count(H);
  K k(H);
  std::vector<float> g(n, 0.0f);
  const size_t max_pred = std::max<size_t>(1, std::min(B, len > 0 ? len - 1 : 0));
  std::vector<float> hs((max_pred + 1) * H), P(max_pred * kVocab);
  std::vector<float> dnext(H), dh(H), dr(H), h(H, 0.0f);
  alignas(32) float dy[kVocab];
  Params G(g.data(), H);

  double total_loss = 0.0;
  int64_t total_chars = 0;
  for (size_t pos = 0; pos + 1 < len; pos += B) {
    if (cancel && cancel->load(std::memory_order_relaxed))
      return std::numeric_limits<double>::quiet_NaN();
    const size_t L = std::min(B + 1, len - pos);
    const uint8_t* win = data + pos;

    // Forward.
    k.prepare(w, H);
    std::memcpy(hs.data(), h.data(), H * sizeof(float));
    float wl = 0.0f;
    for (size_t t = 0; t + 1 < L; ++t) {
      const float* hp = &hs[t * H];
      float* hn = &hs[(t + 1) * H];
      k.step(w, H, hp, win[t], hn);
      float* prob = &P[t * kVocab];
      k.readout(w, H, hn, prob);
      wl = wl + pred_loss(prob, win[t + 1]);
    }

    // Backward (gradients are zero here: cleared after the previous update).
    bool used[kVocab] = {};
    std::fill(dnext.begin(), dnext.end(), 0.0f);
    for (size_t t = L - 1; t-- > 0;) {
      const uint8_t x = win[t], target = win[t + 1];
      used[x] = true;
      const float* prob = &P[t * kVocab];
      for (int o = 0; o < kVocab; ++o) dy[o] = prob[o];
      dy[target] = prob[target] - 1.0f;
      k.backward(w, H, g.data(), dy, &hs[(t + 1) * H], &hs[t * H], x, dh.data(), dr.data(),
                 dnext.data());
    }
    uint8_t cols[kVocab];
    int ncols = 0;
    for (int c = 0; c < kVocab; ++c)
      if (used[c]) cols[ncols++] = static_cast<uint8_t>(c);

    // Clip and update.
    const float nrm = grad_norm(g.data(), H, cols, ncols);
    const float scale = nrm > p.clip ? p.clip / nrm : 1.0f;
    const float kk = lr * scale;
    k.update(w, g.data(), n, kk);

    // Clear the gradients for the next window (dWx: only the touched columns).
    for (size_t i = 0; i < H; ++i)
      for (int c = 0; c < ncols; ++c) G.Wx[i * kVocab + cols[c]] = 0.0f;
    std::fill(G.Wh, G.by + kVocab, 0.0f);

    std::memcpy(h.data(), &hs[(L - 1) * H], H * sizeof(float));
    total_loss += static_cast<double>(wl);
    total_chars += static_cast<int64_t>(L - 1);
  }
  const float D = static_cast<float>(total_chars) * ln2f();
  return total_loss / static_cast<double>(D);
}

template <class K>
double eval_bpc_impl(const float* w, size_t H, const uint8_t* data, size_t len) {
  K k(H);
  k.prepare(w, H);
  std::vector<float> h(H, 0.0f), hn(H);
  alignas(32) float prob[kVocab];
  double total = 0.0;
  for (size_t t = 0; t + 1 < len; ++t) {
    k.step(w, H, h.data(), data[t], hn.data());
    k.readout(w, H, hn.data(), prob);
    total += static_cast<double>(pred_loss(prob, data[t + 1]));
    h.swap(hn);
  }
  const float chars = static_cast<float>(static_cast<int64_t>(len) - 1);
  return total / static_cast<double>(chars * ln2f());
}

}  // namespace

void train_init(float* weights, size_t H, uint32_t seed) {
  if (H == 0) throw std::invalid_argument("train_init: hidden size must be >= 1");
  GlibcRand rng(seed);
  Params W(weights, H);
  const float fh = static_cast<float>(H);
  auto draw = [&]() {
    const float a = static_cast<float>(rng.rand());
    const float v = a / 2147483648.0f;
    const float c = v - 0.5f;
    return c / fh;
  };
  for (size_t i = 0; i < H; ++i) {
    for (int x = 0; x < kVocab; ++x) W.Wx[i * kVocab + x] = draw();
    for (size_t j = 0; j < H; ++j) W.Wh[i * H + j] = draw();
    W.bh[i] = 0.0f;
  }
  for (int o = 0; o < kVocab; ++o) {
    for (size_t j = 0; j < H; ++j) W.Wy[static_cast<size_t>(o) * H + j] = draw();
    W.by[o] = 0.0f;
  }
}

float train_lr(int epoch, int total_epochs, float lr_peak) {
  const float pi = bits_to_float(0x40490fdbu);  // 3.14159265f
  const float a = pi * static_cast<float>(epoch);
  const float x = a / static_cast<float>(total_epochs);
  const float c = gmath::cosf(x);
  const float half = lr_peak * 0.5f;
  const float one_c = 1.0f + c;
  float lr = half * one_c;
  const float floor = lr_peak * 0.01f;
  if (lr < floor) lr = floor;
  return lr;
}

double train_epoch(float* weights, const uint8_t* data, size_t len, float lr,
                   const TrainParams& p, Isa isa, const std::atomic<bool>* cancel) {
  if (p.H == 0) throw std::invalid_argument("train_epoch: hidden size must be >= 1");
  if (p.bptt < 1) throw std::invalid_argument("train_epoch: bptt must be >= 1");
#if SATRNN_TRAIN_AVX2
  if (isa == Isa::Avx2 && cpu_has_avx2())
    return train_epoch_impl<Avx2Kernels>(weights, data, len, lr, p, cancel);
#endif
  (void)isa;
  return train_epoch_impl<ScalarKernels>(weights, data, len, lr, p, cancel);
}

double eval_bpc(const float* weights, size_t H, const uint8_t* data, size_t len, Isa isa) {
  if (H == 0) throw std::invalid_argument("eval_bpc: hidden size must be >= 1");
#if SATRNN_TRAIN_AVX2
  if (isa == Isa::Avx2 && cpu_has_avx2()) return eval_bpc_impl<Avx2Kernels>(weights, H, data, len);
#endif
  (void)isa;
  return eval_bpc_impl<ScalarKernels>(weights, H, data, len);
}

}  // namespace satrnn
