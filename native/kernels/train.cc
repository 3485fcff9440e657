// sat_train kernels, bit-exact (spec sat_train.md). See train.h for the API.
//
// Exactness rules (spec §"Notation", 00-common §7): every float operation is one binary32
// operation in the spec's order; no FMA (build with -ffp-contract=off); glibc-2.36-exact
// tanhf/expf/logf/cosf from math/glibc_float.h; sqrtf is the IEEE square root.
//
// The forward step and the readout's matrix-vector sums come from core/step.h (StepKernel,
// packed_matvec), so the trainer runs the very step every other exact kernel runs, with
// one implementation per ISA. This file adds the softmax, backward pass, clipped update
// and gradient norm: portable loops on Isa::Scalar and Isa::Sse2 (only the forward sums
// have SSE2 code), AVX2 kernels on Isa::Avx2 and Isa::Avx512 (no AVX-512 code here).
//
// The vector kernels vectorise only across independent outputs (8 lanes = 8 outputs), so
// every lane performs exactly the scalar operation sequence (separate mul and add, never
// FMA); they are therefore bit-identical with the portable loops. Sequential float
// reductions that the spec orders along one axis (the recurrent sum over j, the readout
// over j, dh over o, dnext over i) keep that order inside each lane. The global gradient
// norm is a single sequential float sum and stays scalar on every ISA; it skips only
// gradient entries that are exactly +0 by construction (dWx columns of bytes that did
// not occur in the window): adding fround(0*0) = +0 to a sum that is >= +0 is the
// identity, so the result is unchanged.
#include "kernels/train.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "core/cpu.h"
#include "core/step.h"
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
using Params = ParamViews<float>;

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
// Portable backward pass and update (Isa::Scalar and Isa::Sse2): the spec's loops.

// y[j] = fround(y[j] + fround(a[j] * c)), independent per j. Unrolled by 4 so that
// gcc -O2 may pack the four independent lanes into one SSE2 operation (exact: no
// cross-lane arithmetic). `inline`: called once per matrix row, so a call would cost ~2%.
inline void axpy(float* __restrict y, const float* __restrict a, float c, size_t n) {
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

// Backward steps b-f of one time step: dy[256] given; computes dh (Wy sum + dnext) and
// dr, accumulates the gradients G, and replaces dnext.
void backward_scalar(const Params& W, const Params& G, size_t H, const float* dy,
                     const float* hn, const float* hp, uint8_t x, float* dh, float* dr,
                     float* dnext) {
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
void update_scalar(float* w, const float* g, size_t n, float k) {
  for (size_t i = 0; i < n; ++i) w[i] = w[i] - k * g[i];
}

#if SATRNN_TRAIN_AVX2
#define SATRNN_AVX2 __attribute__((target("avx2")))
#define SATRNN_AVX2_FMA __attribute__((target("avx2,fma")))

// ---------------------------------------------------------------------------------------
// AVX2 kernels. Lane l of a vector is one independent output (hidden unit, output byte or
// column j); each lane runs the portable loops' exact operation sequence.

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

// One backward time step (as backward_scalar), vectorised across columns / units.
SATRNN_AVX2 void backward_avx2(const Params& W, const Params& Gp, size_t H, const float* dy,
                               const float* hn, const float* hp, uint8_t x, float* dh, float* dr,
                               float* dnext) {
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
#endif  // SATRNN_TRAIN_AVX2

// ---------------------------------------------------------------------------------------
// The trainer's kernels on one ISA (already resolved to one this build and CPU can run):
// forward step and readout sums from core/step.h, softmax / backward / update from above.
class Kernels {
 public:
  Kernels(size_t H, Isa isa)
      : H_(H), isa_(isa), step_(H, isa), wyp_(static_cast<size_t>(kVocab) * H, 0.0f) {
#if SATRNN_TRAIN_AVX2
    // expf8 needs FMA; without it softmax_avx2 takes the scalar expf (same bits).
    fma_ = uses_avx2(isa) && __builtin_cpu_supports("fma");
#endif
  }

  // Repacks Wh and Wy; call whenever the weights changed.
  void prepare(const float* w) {
    const Layout l = layout(H_);
    step_.prepare(w + l.Wh);
    // 256 rows is a multiple of every lane count, so no padding lanes.
    pack_rows(w + l.Wy, kVocab, H_, lanes(isa_), wyp_.data());
  }

  // hn = step(h, x), the exact recurrence.
  void step(const float* w, const float* h, uint8_t x, float* hn) {
    const Layout l = layout(H_);
    step_.step(w + l.Wx, w + l.bh, h, x, hn);
  }

  // prob = softmax(by + Wy·hn), all float, each logit summed over j in order.
  void readout(const float* w, const float* hn, float* prob) const {
    alignas(32) float logit[kVocab];
    packed_matvec(isa_, wyp_.data(), kVocab, H_, hn, w + layout(H_).by, logit);
#if SATRNN_TRAIN_AVX2
    if (uses_avx2(isa_)) return softmax_avx2(logit, prob, fma_);
#endif
    softmax_scalar(logit, prob);
  }

  void backward(const float* w, float* g, const float* dy, const float* hn, const float* hp,
                uint8_t x, float* dh, float* dr, float* dnext) const {
    const Params W(const_cast<float*>(w), H_);
    const Params G(g, H_);
#if SATRNN_TRAIN_AVX2
    if (uses_avx2(isa_)) return backward_avx2(W, G, H_, dy, hn, hp, x, dh, dr, dnext);
#endif
    backward_scalar(W, G, H_, dy, hn, hp, x, dh, dr, dnext);
  }

  void update(float* w, const float* g, size_t n, float k) const {
#if SATRNN_TRAIN_AVX2
    if (uses_avx2(isa_)) return update_avx2(w, g, n, k);
#endif
    update_scalar(w, g, n, k);
  }

 private:
  size_t H_;
  Isa isa_;
  bool fma_ = false;
  StepKernel step_;
  std::vector<float> wyp_;  // Wy packed as pack_rows(.., lanes(isa_), ..) leaves it
};

// The ISA to run for a requested one: unavailable ISAs fall back to the next narrower
// available one (Avx512 -> Avx2 -> Sse2 -> Scalar), all of which give the same bytes. The
// trainer has no AVX-512 code: Avx512 runs its AVX2 kernels.
Isa resolve_isa(Isa isa) {
  if (uses_avx2(isa) && isa_available(Isa::Avx2)) return Isa::Avx2;
  if ((uses_avx2(isa) || isa == Isa::Sse2) && isa_available(Isa::Sse2)) return Isa::Sse2;
  return Isa::Scalar;
}

// ---------------------------------------------------------------------------------------
// Drivers.

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

double train_epoch_impl(float* w, const uint8_t* data, size_t len, float lr,
                        const TrainParams& p, Isa isa, const std::atomic<bool>* cancel) {
  const size_t H = p.H;
  const size_t B = static_cast<size_t>(p.bptt);
  const size_t n = param_count(H);
  Kernels k(H, isa);
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
    k.prepare(w);  // w changed at the previous window's update
    std::memcpy(hs.data(), h.data(), H * sizeof(float));
    float wl = 0.0f;
    for (size_t t = 0; t + 1 < L; ++t) {
      const float* hp = &hs[t * H];
      float* hn = &hs[(t + 1) * H];
      k.step(w, hp, win[t], hn);
      float* prob = &P[t * kVocab];
      k.readout(w, hn, prob);
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
      k.backward(w, g.data(), dy, &hs[(t + 1) * H], &hs[t * H], x, dh.data(), dr.data(),
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

double eval_bpc_impl(const float* w, size_t H, const uint8_t* data, size_t len, Isa isa) {
  Kernels k(H, isa);
  k.prepare(w);
  std::vector<float> h(H, 0.0f), hn(H);
  alignas(32) float prob[kVocab];
  double total = 0.0;
  for (size_t t = 0; t + 1 < len; ++t) {
    k.step(w, h.data(), data[t], hn.data());
    k.readout(w, hn.data(), prob);
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
  return train_epoch_impl(weights, data, len, lr, p, resolve_isa(isa), cancel);
}

double eval_bpc(const float* weights, size_t H, const uint8_t* data, size_t len, Isa isa) {
  if (H == 0) throw std::invalid_argument("eval_bpc: hidden size must be >= 1");
  return eval_bpc_impl(weights, H, data, len, resolve_isa(isa));
}

}  // namespace satrnn
