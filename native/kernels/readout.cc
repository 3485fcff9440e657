#include "kernels/readout.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "math/glibc_double.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#include "math/exp_avx2.h"
#include "math/exp_avx512.h"
#endif

namespace satrnn {
namespace {

constexpr double kFloor = 1e-30;
// Variants evaluated together in the softmax (two AVX2 vectors of four lanes, one AVX-512
// vector of eight).
constexpr size_t kGroup = 8;

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Biased exponent of a nonzero float (its lowest possible set bit is 2^(E-150)), or 255 for ±0,
// which adds nothing and never limits exactness.
inline int exp_field(float f) {
  const uint32_t u = float_bits(f) & 0x7fffffffu;
  return u == 0 ? 255 : static_cast<int>(u >> 23);
}


// One term change turning one variant's logits into another's: remove `from`, add `to`.
struct Op {
  int j;
  uint8_t from, to;
};

// An Op at one position, with the values it reads: add float(Wy[o][j]*to), subtract
// float(Wy[o][j]*from), or both (remove `from`, then add `to`).
struct Change {
  enum Kind : uint8_t { kAdd, kSub, kSwap } kind;
  int j;
  float from, to;
};

// One variant, pre-digested: its kept terms in j order (for ordered sums) and, for the
// certified method, the cheapest exact route to its logits: re-sum the kept terms, or
// update the full sums S, or update the previous variant's logits (nested variants such as
// cumulative knockouts then cost one term each).
struct Plan {
  std::vector<int> kept;
  std::vector<uint8_t> kept_use;  // kValue / kSign / kNegated / kFixed of each kept term
  std::vector<uint8_t> use;       // [H]
  // kFixed terms read their given value instead of h_j. Such a variant is always summed in
  // order, and never a base for the next: the certificate bounds products of |h| <= 1 and
  // their exponents at each position, not products of arbitrary given values.
  bool fixed = false;
  std::vector<float> value;       // [H] the given values (where use is kFixed)
  enum Base { kOrdered, kFull, kPrevious } base = kOrdered;
  std::vector<Op> ops;
};

Plan make_plan(const ReadoutBatch& b, size_t v) {
  const size_t H = b.model->H;
  const uint8_t* use = b.use + v * H;
  Plan p;
  p.use.assign(use, use + H);
  for (size_t j = 0; j < H; ++j)
    if (use[j] != kAbsent) {
      p.kept.push_back(static_cast<int>(j));
      p.kept_use.push_back(use[j]);
      p.fixed = p.fixed || use[j] == kFixed;
    }
  if (p.fixed) {
    if (!b.use_values) throw std::invalid_argument("readout: use code 4 (fixed) needs use_values");
    p.value.assign(b.use_values + v * H, b.use_values + (v + 1) * H);
  }
  return p;
}

std::vector<Op> diff_ops(const std::vector<uint8_t>& from, const std::vector<uint8_t>& to, size_t* cost) {
  std::vector<Op> ops;
  *cost = 0;
  for (size_t j = 0; j < to.size(); ++j)
    if (from[j] != to[j]) {
      ops.push_back({static_cast<int>(j), from[j], to[j]});
      *cost += (from[j] != kAbsent) + (to[j] != kAbsent);
    }
  return ops;
}

// Picks a variant's base: re-sum its kept terms, update the full sums, or update the
// previous variant's logits (when `previous` is given), whichever costs the fewest term
// passes over the 256 outputs.
void choose_base(Plan& p, const Plan* previous) {
  const std::vector<uint8_t> full(p.use.size(), kValue);
  size_t best = p.kept.size(), c;
  p.base = Plan::kOrdered;
  p.ops.clear();
  if (p.fixed) return;
  if (previous && previous->fixed) previous = nullptr;
  std::vector<Op> ops = diff_ops(full, p.use, &c);
  if (c < best) {
    best = c;
    p.base = Plan::kFull;
    p.ops = std::move(ops);
  }
  if (previous) {
    ops = diff_ops(previous->use, p.use, &c);
    if (c < best) {
      p.base = Plan::kPrevious;
      p.ops = std::move(ops);
    }
  }
}

void choose_bases(std::vector<Plan>& plans) {
  for (size_t i = 0; i < plans.size(); ++i) choose_base(plans[i], i > 0 ? &plans[i - 1] : nullptr);
}

inline float sign_of(float h) { return h >= 0.0f ? 1.0f : -1.0f; }
// The value a term of use `u` reads from h (negation is exact, so -h*w = -(h*w) bit for bit).
inline float read_as(uint8_t u, float h) { return u == kSign ? sign_of(h) : u == kNegated ? -h : h; }
// The value kept term q of plan p reads at a position whose state is h.
inline float term_value(const Plan& p, size_t q, const float* h) {
  const int j = p.kept[q];
  return p.kept_use[q] == kFixed ? p.value[j] : read_as(p.kept_use[q], h[j]);
}

// The spec's sum for output o: by[o], then the kept terms in j order, each a float product
// rounded to float and widened to double.
inline double ordered_logit(const ModelView& m, const Plan& p, const float* h, int o) {
  const float* w = m.Wy + static_cast<size_t>(o) * m.H;
  double s = m.by[o];
  for (size_t q = 0; q < p.kept.size(); ++q) {
    const int j = p.kept[q];
    const float r = term_value(p, q, h);
    const float prod = w[j] * r;
    s = s + static_cast<double>(prod);
  }
  return s;
}

// Steps 2-3 of 00-common §4 on finished logits: e[o] = exp(logit[o] - M) with M the max
// (start -1e30, strictly greater), and their sum in o order, returned.
inline double softmax_exp(const double* logit, double* e) {
  double M = -1e30;
  for (int o = 0; o < kVocab; ++o)
    if (logit[o] > M) M = logit[o];
  double E = 0.0;
  for (int o = 0; o < kVocab; ++o) {
    e[o] = gmath::exp(logit[o] - M);
    E = E + e[o];
  }
  return E;
}

// Steps 2-5: the bits of target y.
inline double bits_scalar(const double* logit, double* e, int y) {
  const double E = softmax_exp(logit, e);
  const double q = e[y] / E;
  return -gmath::log2(q > kFloor ? q : kFloor);
}

// The probability row: P[o] = e[o] / E.
inline void probs_scalar(const double* logit, double* P) {
  const double E = softmax_exp(logit, P);
  for (int o = 0; o < kVocab; ++o) P[o] = P[o] / E;
}

// Lane k < n: the bits of target y[k] under logits[k], one lane after another.
inline void bits_rows_scalar(const double* const* logits, const int* y, size_t n, double* out) {
  double e[kVocab];
  for (size_t k = 0; k < n; ++k) out[k] = bits_scalar(logits[k], e, y[k]);
}

// Steps 4-5 of eight vector lanes, from each lane's sum E[k] and its e[y] (ey[k]).
inline void bits_from_sums(const double* E, const double* ey, double* out) {
  for (int k = 0; k < 8; ++k) {
    const double p = ey[k] / E[k];
    out[k] = -gmath::log2(p > kFloor ? p : kFloor);
  }
}

// ---------------------------------------------------------------------------------------
// Kernels behind one interface so the scalar and AVX2 drivers share the control flow.
struct ScalarOps {
  const ModelView m;
  explicit ScalarOps(const ModelView& mv) : m(mv) {}

  // logit[o] = ordered sum over the plan's kept terms, for all o. Four outputs at a time
  // only to overlap the latency of four independent chains; each sums alone, in j order.
  void ordered_all(const Plan& p, const float* h, double* logit, float* r) const {
    const size_t H = m.H, k = p.kept.size();
    for (size_t q = 0; q < k; ++q) r[q] = term_value(p, q, h);
    for (int o = 0; o < kVocab; o += 4) {
      const float* w0 = m.Wy + static_cast<size_t>(o) * H;
      const float *w1 = w0 + H, *w2 = w1 + H, *w3 = w2 + H;
      double s0 = m.by[o], s1 = m.by[o + 1], s2 = m.by[o + 2], s3 = m.by[o + 3];
      for (size_t q = 0; q < k; ++q) {
        const int j = p.kept[q];
        const float rj = r[q];
        const float p0 = w0[j] * rj, p1 = w1[j] * rj, p2 = w2[j] * rj, p3 = w3[j] * rj;
        s0 = s0 + static_cast<double>(p0);
        s1 = s1 + static_cast<double>(p1);
        s2 = s2 + static_cast<double>(p2);
        s3 = s3 + static_cast<double>(p3);
      }
      logit[o] = s0;
      logit[o + 1] = s1;
      logit[o + 2] = s2;
      logit[o + 3] = s3;
    }
  }

  // Full sums S[o] (all terms, no snaps) and the smallest exponent field of the products.
  void full_sums(const float* h, double* S, int* min_exp) const {
    const size_t H = m.H;
    for (int o = 0; o < kVocab; ++o) {
      const float* w = m.Wy + static_cast<size_t>(o) * H;
      double s = m.by[o];
      int me = 255;
      for (size_t j = 0; j < H; ++j) {
        const float prod = w[j] * h[j];
        s = s + static_cast<double>(prod);
        const int e = exp_field(prod);
        me = e < me ? e : me;
      }
      S[o] = s;
      min_exp[o] = me;
    }
  }

  // Full sums only (no variant derives from them by updates, so no certificate is needed:
  // they are the all-value variant's ordered sums).
  void sums(const float* h, double* S) const {
    const size_t H = m.H;
    for (int o = 0; o < kVocab; ++o) {
      const float* w = m.Wy + static_cast<size_t>(o) * H;
      double s = m.by[o];
      for (size_t j = 0; j < H; ++j) {
        const float prod = w[j] * h[j];
        s = s + static_cast<double>(prod);
      }
      S[o] = s;
    }
  }

  // logit[o] += sign * float(Wy[o][j] * r) for all o (exact under the certificate).
  void add_term(double* logit, int j, float r, bool subtract) const {
    const size_t H = m.H;
    for (int o = 0; o < kVocab; ++o) {
      const float prod = m.Wy[static_cast<size_t>(o) * H + j] * r;
      logit[o] = subtract ? logit[o] - static_cast<double>(prod) : logit[o] + static_cast<double>(prod);
    }
  }

  // logit[o] = (logit[o] - float(Wy[o][j]*from)) + float(Wy[o][j]*to), for all o.
  void swap_term(double* logit, int j, float from, float to) const {
    const size_t H = m.H;
    for (int o = 0; o < kVocab; ++o) {
      const float w = m.Wy[static_cast<size_t>(o) * H + j];
      const float a = w * from, b = w * to;
      logit[o] = (logit[o] - static_cast<double>(a)) + static_cast<double>(b);
    }
  }

  // logit = base with every change applied, one change after another (exact where the
  // certificate holds: every intermediate is a sum of some mix of terms, below the bound;
  // the caller re-sums the other logits in order).
  void derive(const double* base, const Change* c, size_t n, double* logit) const {
    std::memcpy(logit, base, sizeof(double) * kVocab);
    for (size_t i = 0; i < n; ++i) {
      if (c[i].kind == Change::kAdd) add_term(logit, c[i].j, c[i].to, false);
      else if (c[i].kind == Change::kSub) add_term(logit, c[i].j, c[i].from, true);
      else swap_term(logit, c[i].j, c[i].from, c[i].to);
    }
  }

  // Lane k < n: the bits of target y[k] under logits[k] (one lane after another).
  void bits8(const double* const* logits, const int* y, size_t n, double* out) const { bits_rows_scalar(logits, y, n, out); }
};

#if defined(__x86_64__)
// Sixteen outputs per pass, four double accumulators of four lanes: lane o receives its
// terms in the same j order as the scalar code, a float multiply (rounded) widened to
// double before a separate add, never FMA: bit-identical to ScalarOps. Wy is repacked as
// [o/16][j][16] so one term of sixteen outputs is one 64-byte load.
// Sixteen double accumulators (four vectors): start at by[o..o+15], add one float product
// of sixteen outputs per call in the caller's order, store.
// Products are formed four at a time (128-bit multiplies): widening a 256-bit product
// vector needs an extra extract per half, and the widening conversions (one per cycle on
// the machines measured) are the bottleneck; measured ~20 % faster.
struct Acc16 {
  __m256d a[4];
  __attribute__((target("avx2"))) explicit Acc16(const float* by) {
    for (int i = 0; i < 4; ++i) a[i] = _mm256_cvtps_pd(_mm_loadu_ps(by + 4 * i));
  }
  // Adds float(w[o] * r) widened to double.
  __attribute__((target("avx2"), always_inline)) inline void add(const float* w, __m128 rv) {
    a[0] = _mm256_add_pd(a[0], _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(w), rv)));
    a[1] = _mm256_add_pd(a[1], _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(w + 4), rv)));
    a[2] = _mm256_add_pd(a[2], _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(w + 8), rv)));
    a[3] = _mm256_add_pd(a[3], _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(w + 12), rv)));
  }
  __attribute__((target("avx2"))) void store(double* out) const {
    for (int i = 0; i < 4; ++i) _mm256_storeu_pd(out + 4 * i, a[i]);
  }
};

struct Avx2Ops {
  const ModelView m;
  std::vector<float> packed;
  // Wy transposed ([j][o]) for the one-change derive: column j is 1 KB in a row, where the
  // blocks put its sixteen 64-byte pieces H * 64 bytes apart (measured on AMD Zen 5: that
  // derive ~1/3 faster in isolation, the q3 suite ~3 %).
  std::vector<float> wy_columns;
  static constexpr int kBlocks = kVocab / 16;

  explicit Avx2Ops(const ModelView& mv)
      : m(mv), packed(static_cast<size_t>(kBlocks) * mv.H * 16), wy_columns(static_cast<size_t>(kVocab) * mv.H) {
    const size_t H = m.H;
    for (int o = 0; o < kVocab; ++o)
      for (size_t j = 0; j < H; ++j) {
        packed[((o / 16) * H + j) * 16 + (o % 16)] = m.Wy[static_cast<size_t>(o) * H + j];
        wy_columns[j * kVocab + o] = m.Wy[static_cast<size_t>(o) * H + j];
      }
  }
  const float* block(int blk) const { return &packed[static_cast<size_t>(blk) * m.H * 16]; }

  // `r` has room for H values. A variant that keeps most terms runs the dense loop of
  // sums() over every j, reading 0 for a removed term: adding float(w * 0) = +-0 leaves a
  // nonzero sum unchanged and can only change the sign of a zero sum, which no bit or
  // probability sees (00-common §4: exp(+-0 - M) and the max are the same). The indexed
  // loop costs ~1.5x per term (an index load and address arithmetic per term).
  __attribute__((target("avx2"))) void ordered_all(const Plan& p, const float* h, double* logit, float* r) const {
    const size_t k = p.kept.size();
    if (4 * k >= 3 * m.H) {
      for (size_t j = 0; j < m.H; ++j)
        r[j] = p.use[j] == kAbsent ? 0.0f : p.use[j] == kFixed ? p.value[j] : read_as(p.use[j], h[j]);
      return sums(r, logit);
    }
    for (size_t q = 0; q < k; ++q) r[q] = term_value(p, q, h);
    for (int blk = 0; blk < kBlocks; ++blk) {
      Acc16 acc(m.by + blk * 16);
      const float* base = block(blk);
      for (size_t q = 0; q < k; ++q) acc.add(base + static_cast<size_t>(p.kept[q]) * 16, _mm_set1_ps(r[q]));
      acc.store(logit + blk * 16);
    }
  }

  // The smallest exponent field among the nonzero products of each output: float bit
  // patterns of |p| order like the magnitudes, so min(|bits| - 1) (unsigned; a zero wraps
  // to the maximum and never wins) + 1 is the smallest nonzero |p|, whose field is the
  // smallest exponent (three integer operations per eight products instead of five).
  __attribute__((target("avx2"))) void full_sums(const float* h, double* S, int* min_exp) const {
    const size_t H = m.H;
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i none = _mm256_set1_epi32(-1);
    auto fields = [&](__m256i mn) __attribute__((target("avx2"))) {
      // All products zero: 255, which never limits exactness (as exp_field(0)).
      return _mm256_blendv_epi8(_mm256_srli_epi32(_mm256_add_epi32(mn, one), 23), _mm256_set1_epi32(255), _mm256_cmpeq_epi32(mn, none));
    };
    for (int blk = 0; blk < kBlocks; ++blk) {
      __m256d a0 = _mm256_cvtps_pd(_mm_loadu_ps(m.by + blk * 16)), a1 = _mm256_cvtps_pd(_mm_loadu_ps(m.by + blk * 16 + 4));
      __m256d a2 = _mm256_cvtps_pd(_mm_loadu_ps(m.by + blk * 16 + 8)), a3 = _mm256_cvtps_pd(_mm_loadu_ps(m.by + blk * 16 + 12));
      __m256i me0 = none, me1 = none;
      const float* base = block(blk);
      for (size_t j = 0; j < H; ++j) {
        const float* w = base + j * 16;
        const __m256 rv = _mm256_set1_ps(h[j]);
        const __m256 p0 = _mm256_mul_ps(_mm256_loadu_ps(w), rv), p1 = _mm256_mul_ps(_mm256_loadu_ps(w + 8), rv);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(p0)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(p0, 1)));
        a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm256_castps256_ps128(p1)));
        a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm256_extractf128_ps(p1, 1)));
        me0 = _mm256_min_epu32(me0, _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(p0), absmask), one));
        me1 = _mm256_min_epu32(me1, _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(p1), absmask), one));
      }
      double* out = S + blk * 16;
      _mm256_storeu_pd(out, a0);
      _mm256_storeu_pd(out + 4, a1);
      _mm256_storeu_pd(out + 8, a2);
      _mm256_storeu_pd(out + 12, a3);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(min_exp + blk * 16), fields(me0));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(min_exp + blk * 16 + 8), fields(me1));
    }
  }

  // Full sums only (ScalarOps::sums).
  __attribute__((target("avx2"))) void sums(const float* h, double* S) const {
    const size_t H = m.H;
    for (int blk = 0; blk < kBlocks; ++blk) {
      Acc16 acc(m.by + blk * 16);
      const float* base = block(blk);
      for (size_t j = 0; j < H; ++j) acc.add(base + j * 16, _mm_set1_ps(h[j]));
      acc.store(S + blk * 16);
    }
  }

  // a0..a3 -/+= float(w * r) widened to double, for sixteen outputs (w0: the first eight).
  template <bool Subtract>
  __attribute__((target("avx2"), always_inline)) static inline void term16(const float* w, float r, __m256d& a0, __m256d& a1,
                                                                          __m256d& a2, __m256d& a3) {
    const __m128 rv = _mm_set1_ps(r);
    const __m256d d0 = _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(w), rv)), d1 = _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(w + 4), rv));
    const __m256d d2 = _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(w + 8), rv)), d3 = _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(w + 12), rv));
    a0 = Subtract ? _mm256_sub_pd(a0, d0) : _mm256_add_pd(a0, d0);
    a1 = Subtract ? _mm256_sub_pd(a1, d1) : _mm256_add_pd(a1, d1);
    a2 = Subtract ? _mm256_sub_pd(a2, d2) : _mm256_add_pd(a2, d2);
    a3 = Subtract ? _mm256_sub_pd(a3, d3) : _mm256_add_pd(a3, d3);
  }

  // ScalarOps::derive with sixteen logits held in registers across all changes (the
  // certificate makes every partial sum exact, so the per-output results are identical).
  __attribute__((target("avx2"))) void derive(const double* base, const Change* c, size_t n, double* logit) const {
    if (n == 1) {
      // One change (most variants): one pass down the transposed column.
      const float* col = &wy_columns[static_cast<size_t>(c->j) * kVocab];
      const bool sub = c->kind != Change::kAdd, add = c->kind != Change::kSub;
      for (int blk = 0; blk < kBlocks; ++blk) {
        const double* b = base + blk * 16;
        __m256d a0 = _mm256_loadu_pd(b), a1 = _mm256_loadu_pd(b + 4);
        __m256d a2 = _mm256_loadu_pd(b + 8), a3 = _mm256_loadu_pd(b + 12);
        const float* w = col + blk * 16;
        if (sub) term16<true>(w, c->from, a0, a1, a2, a3);
        if (add) term16<false>(w, c->to, a0, a1, a2, a3);
        double* l = logit + blk * 16;
        _mm256_storeu_pd(l, a0);
        _mm256_storeu_pd(l + 4, a1);
        _mm256_storeu_pd(l + 8, a2);
        _mm256_storeu_pd(l + 12, a3);
      }
      return;
    }
    // Named registers, no arrays or helper lambdas: gcc otherwise keeps them on the stack.
    for (int blk = 0; blk < kBlocks; ++blk) {
      const double* b = base + blk * 16;
      __m256d a0 = _mm256_loadu_pd(b), a1 = _mm256_loadu_pd(b + 4);
      __m256d a2 = _mm256_loadu_pd(b + 8), a3 = _mm256_loadu_pd(b + 12);
      const float* col = block(blk);
      for (size_t q = 0; q < n; ++q) {
        const float* w = col + static_cast<size_t>(c[q].j) * 16;
        if (c[q].kind != Change::kAdd) term16<true>(w, c[q].from, a0, a1, a2, a3);
        if (c[q].kind != Change::kSub) term16<false>(w, c[q].to, a0, a1, a2, a3);
      }
      double* l = logit + blk * 16;
      _mm256_storeu_pd(l, a0);
      _mm256_storeu_pd(l + 4, a1);
      _mm256_storeu_pd(l + 8, a2);
      _mm256_storeu_pd(l + 12, a3);
    }
  }

  // The softmax's first step for eight rows: M[k], the largest logit of row k (the spec's
  // max from -1e30, strictly greater). False when some row also has a logit below
  // M[k] - 512, outside the unchecked vector exp's range: the rows then take the scalar route.
  __attribute__((target("avx2"))) static bool row_maxima(const double* const* logits, double* M) {
    bool in_range = true;
    for (int k = 0; k < 8; ++k) {
      // Max and min are exact and order-free for finite logits.
      __m256d mx[2] = {_mm256_set1_pd(-1e30), _mm256_set1_pd(-1e30)};
      __m256d mn[2] = {_mm256_loadu_pd(logits[k]), _mm256_loadu_pd(logits[k])};
      for (int o = 0; o < kVocab; o += 8)
        for (int i = 0; i < 2; ++i) {
          const __m256d v = _mm256_loadu_pd(logits[k] + o + 4 * i);
          mx[i] = _mm256_max_pd(mx[i], v);
          mn[i] = _mm256_min_pd(mn[i], v);
        }
      alignas(32) double a[4], b[4];
      _mm256_store_pd(a, _mm256_max_pd(mx[0], mx[1]));
      _mm256_store_pd(b, _mm256_min_pd(mn[0], mn[1]));
      double mk = a[0], lk = b[0];
      for (int i = 1; i < 4; ++i) {
        mk = a[i] > mk ? a[i] : mk;
        lk = b[i] < lk ? b[i] : lk;
      }
      M[k] = mk;
      // Rounding is monotonic, so every logit - M lies in [lo - M, 0]: the unchecked exp's range.
      in_range = in_range && (lk - mk > -512.0);
    }
    return in_range;
  }

  // Eight predictions at once (variants, or positions of few variants), one per lane of two
  // vectors: a 4x4 transpose puts output o of four rows in one vector, so each lane runs
  // the spec's sequence (max, exp(logit - M), sum in o order, p[y], floor, log2) for its own
  // row and target, and the two groups' sums form independent dependency chains that
  // overlap with the exps.
  // Lanes from n on repeat lane 0 (results unused): the vector pass computes them anyway.
  __attribute__((target("avx2"))) void bits8(const double* const* logits, const int* y, size_t n, double* out) const {
    alignas(32) double M[8];
    if (!row_maxima(logits, M)) return bits_rows_scalar(logits, y, n, out);
    const __m256d M0 = _mm256_load_pd(M), M1 = _mm256_load_pd(M + 4);
    __m256d E0 = _mm256_setzero_pd(), E1 = _mm256_setzero_pd();
    const double *a0 = logits[0], *a1 = logits[1], *a2 = logits[2], *a3 = logits[3];
    const double *b0 = logits[4], *b1 = logits[5], *b2 = logits[6], *b3 = logits[7];
    // c[i] = output o+i of four variants (a 4x4 transpose of four rows).
    auto transpose = [](const double* r0, const double* r1, const double* r2, const double* r3, int o,
                        __m256d* c) __attribute__((target("avx2"), always_inline)) {
      const __m256d x0 = _mm256_loadu_pd(r0 + o), x1 = _mm256_loadu_pd(r1 + o);
      const __m256d x2 = _mm256_loadu_pd(r2 + o), x3 = _mm256_loadu_pd(r3 + o);
      const __m256d t0 = _mm256_unpacklo_pd(x0, x1), t1 = _mm256_unpackhi_pd(x0, x1);
      const __m256d t2 = _mm256_unpacklo_pd(x2, x3), t3 = _mm256_unpackhi_pd(x2, x3);
      c[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
      c[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
      c[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
      c[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
    };
    // Software-pipelined as Avx512Ops::bits8, in groups of four outputs: a group's eight exps
    // start (exp4_start_avx2: the reduction and the table offsets) one pass before they
    // finish (the table loads, the polynomial, the sums in o order), so each exp's chain to
    // its table loads overlaps the previous group's arithmetic. The groups of outputs 0-3,
    // 4-7, ... use two slots in turn, and the loop is unrolled twice so that each slot is a
    // constant: with a `started = next` copy GCC moved sixteen vectors through the stack per
    // group. Measured on AMD Zen 5 (SATRNN_ISA=avx2): this softmax ~25 % faster than one
    // whole exp after another; ~14 % with that copy, less with groups of eight outputs.
    alignas(32) long long off[2][8][4];
    gmath::Exp4Started st[2][8];
    auto start = [&](int o, int slot) __attribute__((target("avx2"), always_inline)) {
      __m256d c0[4], c1[4];
      transpose(a0, a1, a2, a3, o, c0);
      transpose(b0, b1, b2, b3, o, c1);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        st[slot][2 * i] = gmath::exp4_start_avx2(_mm256_sub_pd(c0[i], M0), off[slot][2 * i]);
        st[slot][2 * i + 1] = gmath::exp4_start_avx2(_mm256_sub_pd(c1[i], M1), off[slot][2 * i + 1]);
      }
    };
    auto finish = [&](int slot) __attribute__((target("avx2"), always_inline)) {
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        E0 = _mm256_add_pd(E0, gmath::exp4_finish_avx2(st[slot][2 * i], off[slot][2 * i]));
        E1 = _mm256_add_pd(E1, gmath::exp4_finish_avx2(st[slot][2 * i + 1], off[slot][2 * i + 1]));
      }
    };
    start(0, 0);
#pragma GCC unroll 1
    for (int o = 4; o < kVocab; o += 8) {
      start(o, 1);
      finish(0);  // outputs o - 4 ...
      if (o + 4 < kVocab) start(o + 4, 0);
      finish(1);  // outputs o ...
    }
    // e[y] again (the same argument gives the same value) instead of a compare per step.
    const __m256d ey0 = gmath::exp4_nonpos_avx2(_mm256_sub_pd(_mm256_set_pd(a3[y[3]], a2[y[2]], a1[y[1]], a0[y[0]]), M0));
    const __m256d ey1 = gmath::exp4_nonpos_avx2(_mm256_sub_pd(_mm256_set_pd(b3[y[7]], b2[y[6]], b1[y[5]], b0[y[4]]), M1));
    alignas(32) double Es[8], eys[8];
    _mm256_store_pd(Es, E0);
    _mm256_store_pd(Es + 4, E1);
    _mm256_store_pd(eys, ey0);
    _mm256_store_pd(eys + 4, ey1);
    bits_from_sums(Es, eys, out);
  }
};
#endif

#if SATRNN_HAVE_EXP_AVX512
#if defined(__GNUC__) && !defined(__clang__)
// (GCC 12's AVX-512 intrinsics: see math/exp_avx512.h.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// The AVX2 kernels widened to 512 bits, on Avx2Ops's repacked Wy ([o/16][j][16]: one term of
// sixteen outputs is one 64-byte row). Lane o still receives its terms in the scalar code's j
// order, a float product rounded to float and widened to double before a separate add
// (never FMA), so every output is bit-identical to ScalarOps. The widening conversion
// is what bounds the logit sums: one instruction widens eight products here, four in AVX2.
struct Avx512Ops : Avx2Ops {
  // (The one-change derive reads Avx2Ops::wy_columns, Wy transposed.)
  using Avx2Ops::Avx2Ops;

  // Two double accumulators of one block of sixteen outputs, starting at by[o..o+15].
  __attribute__((target(SATRNN_AVX512_TARGET), always_inline)) static inline void load_by(const float* by, __m512d& a0, __m512d& a1) {
    a0 = _mm512_cvtps_pd(_mm256_loadu_ps(by));
    a1 = _mm512_cvtps_pd(_mm256_loadu_ps(by + 8));
  }
  // a0, a1 -/+= float(w[o] * r) widened to double, for the sixteen outputs of one block row.
  // Two 256-bit multiplies instead of one 512-bit multiply and an extract: the widening
  // takes 256-bit halves anyway.
  template <bool Subtract>
  __attribute__((target(SATRNN_AVX512_TARGET), always_inline)) static inline void term16(const float* w, __m256 rv, __m512d& a0,
                                                                                     __m512d& a1) {
    const __m512d d0 = _mm512_cvtps_pd(_mm256_mul_ps(_mm256_loadu_ps(w), rv));
    const __m512d d1 = _mm512_cvtps_pd(_mm256_mul_ps(_mm256_loadu_ps(w + 8), rv));
    a0 = Subtract ? _mm512_sub_pd(a0, d0) : _mm512_add_pd(a0, d0);
    a1 = Subtract ? _mm512_sub_pd(a1, d1) : _mm512_add_pd(a1, d1);
  }

  // Full sums only (ScalarOps::sums): two blocks (32 outputs, four add chains) per pass, so
  // the adds' latency hides behind the conversions.
  __attribute__((target(SATRNN_AVX512_TARGET))) void sums(const float* h, double* S) const {
    const size_t H = m.H;
    for (int blk = 0; blk < kBlocks; blk += 2) {
      __m512d a0, a1, a2, a3;
      load_by(m.by + blk * 16, a0, a1);
      load_by(m.by + blk * 16 + 16, a2, a3);
      const float *w0 = block(blk), *w1 = block(blk + 1);
      for (size_t j = 0; j < H; ++j) {
        const __m256 rv = _mm256_set1_ps(h[j]);
        term16<false>(w0 + j * 16, rv, a0, a1);
        term16<false>(w1 + j * 16, rv, a2, a3);
      }
      double* out = S + blk * 16;
      _mm512_storeu_pd(out, a0);
      _mm512_storeu_pd(out + 8, a1);
      _mm512_storeu_pd(out + 16, a2);
      _mm512_storeu_pd(out + 24, a3);
    }
  }

  // Avx2Ops::ordered_all on 512-bit vectors (the same dense or indexed loop choice).
  __attribute__((target(SATRNN_AVX512_TARGET))) void ordered_all(const Plan& p, const float* h, double* logit, float* r) const {
    const size_t k = p.kept.size();
    if (4 * k >= 3 * m.H) {
      for (size_t j = 0; j < m.H; ++j)
        r[j] = p.use[j] == kAbsent ? 0.0f : p.use[j] == kFixed ? p.value[j] : read_as(p.use[j], h[j]);
      return sums(r, logit);
    }
    for (size_t q = 0; q < k; ++q) r[q] = term_value(p, q, h);
    for (int blk = 0; blk < kBlocks; blk += 2) {
      __m512d a0, a1, a2, a3;
      load_by(m.by + blk * 16, a0, a1);
      load_by(m.by + blk * 16 + 16, a2, a3);
      const float *w0 = block(blk), *w1 = block(blk + 1);
      for (size_t q = 0; q < k; ++q) {
        const size_t j = static_cast<size_t>(p.kept[q]);
        const __m256 rv = _mm256_set1_ps(r[q]);
        term16<false>(w0 + j * 16, rv, a0, a1);
        term16<false>(w1 + j * 16, rv, a2, a3);
      }
      double* out = logit + blk * 16;
      _mm512_storeu_pd(out, a0);
      _mm512_storeu_pd(out + 8, a1);
      _mm512_storeu_pd(out + 16, a2);
      _mm512_storeu_pd(out + 24, a3);
    }
  }

  // Avx2Ops::full_sums: the sums and the smallest exponent field among the nonzero products
  // of each output, min(|bits| - 1) as there, sixteen products per integer instruction.
  __attribute__((target(SATRNN_AVX512_TARGET))) void full_sums(const float* h, double* S, int* min_exp) const {
    const size_t H = m.H;
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i none = _mm512_set1_epi32(-1);
    for (int blk = 0; blk < kBlocks; blk += 2) {
      __m512d a0, a1, a2, a3;
      load_by(m.by + blk * 16, a0, a1);
      load_by(m.by + blk * 16 + 16, a2, a3);
      __m512i me0 = none, me1 = none;
      const float *w0 = block(blk), *w1 = block(blk + 1);
      for (size_t j = 0; j < H; ++j) {
        const __m512 rv = _mm512_set1_ps(h[j]);
        const __m512 p0 = _mm512_mul_ps(_mm512_loadu_ps(w0 + j * 16), rv);
        const __m512 p1 = _mm512_mul_ps(_mm512_loadu_ps(w1 + j * 16), rv);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(p0)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(p0, 1)));
        a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(_mm512_castps512_ps256(p1)));
        a3 = _mm512_add_pd(a3, _mm512_cvtps_pd(_mm512_extractf32x8_ps(p1, 1)));
        me0 = _mm512_min_epu32(me0, _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(p0), absmask), one));
        me1 = _mm512_min_epu32(me1, _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(p1), absmask), one));
      }
      double* out = S + blk * 16;
      _mm512_storeu_pd(out, a0);
      _mm512_storeu_pd(out + 8, a1);
      _mm512_storeu_pd(out + 16, a2);
      _mm512_storeu_pd(out + 24, a3);
      // All products zero: 255, which never limits exactness (as exp_field(0)).
      const __m512i f0 = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(me0, none), _mm512_srli_epi32(_mm512_add_epi32(me0, one), 23),
                                                 _mm512_set1_epi32(255));
      const __m512i f1 = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(me1, none), _mm512_srli_epi32(_mm512_add_epi32(me1, one), 23),
                                                 _mm512_set1_epi32(255));
      _mm512_storeu_si512(min_exp + blk * 16, f0);
      _mm512_storeu_si512(min_exp + blk * 16 + 16, f1);
    }
  }

  // ScalarOps::derive. One change (most variants: a knockout, or one more in a chain): one
  // pass over the 256 logits, base to logit. More: two blocks at a time held in registers
  // across all changes. Either way each logit receives the changes in order.
  __attribute__((target(SATRNN_AVX512_TARGET))) void derive(const double* base, const Change* c, size_t n, double* logit) const {
    const size_t H = m.H;
    if (n == 1) {
      const float* col = &wy_columns[static_cast<size_t>(c->j) * kVocab];
      const __m256 from = _mm256_set1_ps(c->from), to = _mm256_set1_ps(c->to);
      const bool sub = c->kind != Change::kAdd, add = c->kind != Change::kSub;
      for (int blk = 0; blk < kBlocks; ++blk) {
        const float* w = col + blk * 16;
        __m512d a0 = _mm512_loadu_pd(base + blk * 16), a1 = _mm512_loadu_pd(base + blk * 16 + 8);
        if (sub) term16<true>(w, from, a0, a1);
        if (add) term16<false>(w, to, a0, a1);
        _mm512_storeu_pd(logit + blk * 16, a0);
        _mm512_storeu_pd(logit + blk * 16 + 8, a1);
      }
      return;
    }
    for (int blk = 0; blk < kBlocks; blk += 2) {
      const double* b = base + blk * 16;
      __m512d a0 = _mm512_loadu_pd(b), a1 = _mm512_loadu_pd(b + 8), a2 = _mm512_loadu_pd(b + 16), a3 = _mm512_loadu_pd(b + 24);
      const float* col = block(blk);
      for (size_t q = 0; q < n; ++q) {
        const float* w = col + static_cast<size_t>(c[q].j) * 16;
        if (c[q].kind != Change::kAdd) {
          const __m256 r = _mm256_set1_ps(c[q].from);
          term16<true>(w, r, a0, a1);
          term16<true>(w + H * 16, r, a2, a3);
        }
        if (c[q].kind != Change::kSub) {
          const __m256 r = _mm256_set1_ps(c[q].to);
          term16<false>(w, r, a0, a1);
          term16<false>(w + H * 16, r, a2, a3);
        }
      }
      double* l = logit + blk * 16;
      _mm512_storeu_pd(l, a0);
      _mm512_storeu_pd(l + 8, a1);
      _mm512_storeu_pd(l + 16, a2);
      _mm512_storeu_pd(l + 24, a3);
    }
  }

  // The softmax's first step for eight rows: M[k], the largest logit of row k (the spec's
  // max from -1e30; exact and order-free for finite logits). Unlike Avx2Ops::row_maxima it
  // leaves the range check to bits8, which compares the exp arguments themselves: a mask
  // compare per eight rows is cheaper than a min per row (measured: the mins took ~3 %
  // of this softmax).
  __attribute__((target(SATRNN_AVX512_TARGET))) static void row_max(const double* const* logits, double* M) {
    for (int k = 0; k < 8; ++k) {
      __m512d mx[2] = {_mm512_set1_pd(-1e30), _mm512_set1_pd(-1e30)};
      for (int o = 0; o < kVocab; o += 16)
        for (int i = 0; i < 2; ++i) mx[i] = _mm512_max_pd(mx[i], _mm512_loadu_pd(logits[k] + o + 8 * i));
      alignas(64) double a[8];
      _mm512_store_pd(a, _mm512_max_pd(mx[0], mx[1]));
      double mk = a[0];
      for (int i = 1; i < 8; ++i) mk = a[i] > mk ? a[i] : mk;
      M[k] = mk;
    }
  }

  // Avx2Ops::bits8 with the eight predictions in the eight lanes of one vector, so each lane
  // runs the spec's sequence (max, exp(logit - M), sum in o order, p[y], floor, log2) for
  // its own row and target. Lanes from n on repeat lane 0 (results unused).
  __attribute__((target(SATRNN_AVX512_TARGET))) void bits8(const double* const* logits, const int* y, size_t n, double* out) const {
    alignas(64) double M[8];
    row_max(logits, M);
    const __m512d Mv = _mm512_load_pd(M);
    __m512d E = _mm512_setzero_pd();
    // Lanes with an argument outside the unchecked exp's range (-512, 0]: not > -512, or NaN.
    const __m512d lowest = _mm512_set1_pd(-512.0);
    __mmask8 outside = 0;
    const double *l0 = logits[0], *l1 = logits[1], *l2 = logits[2], *l3 = logits[3];
    const double *l4 = logits[4], *l5 = logits[5], *l6 = logits[6], *l7 = logits[7];
    // x0, x1 = outputs i, i+1 of the eight rows, minus the rows' maxima. The transpose: X
    // holds outputs i, i+1 of rows 0, 2, 4, 6 (one 128-bit piece each, loaded into place),
    // Y those of rows 1, 3, 5, 7; unpacking them gives output i, then i+1, of all eight rows
    // in row order. (Measured on AMD Zen 5: ~2x faster than an 8x8 transpose of whole rows
    // by 512-bit shuffles, whose lane-crossing steps are slow there.)
    auto arguments = [&](int i, __m512d& x0, __m512d& x1) __attribute__((target(SATRNN_AVX512_TARGET), always_inline)) {
      __m512d X = _mm512_castpd128_pd512(_mm_loadu_pd(l0 + i));
      X = _mm512_insertf64x2(X, _mm_loadu_pd(l2 + i), 1);
      X = _mm512_insertf64x2(X, _mm_loadu_pd(l4 + i), 2);
      X = _mm512_insertf64x2(X, _mm_loadu_pd(l6 + i), 3);
      __m512d Y = _mm512_castpd128_pd512(_mm_loadu_pd(l1 + i));
      Y = _mm512_insertf64x2(Y, _mm_loadu_pd(l3 + i), 1);
      Y = _mm512_insertf64x2(Y, _mm_loadu_pd(l5 + i), 2);
      Y = _mm512_insertf64x2(Y, _mm_loadu_pd(l7 + i), 3);
      x0 = _mm512_sub_pd(_mm512_unpacklo_pd(X, Y), Mv);
      x1 = _mm512_sub_pd(_mm512_unpackhi_pd(X, Y), Mv);
      outside |= _mm512_cmp_pd_mask(x0, lowest, _CMP_NGT_UQ) | _mm512_cmp_pd_mask(x1, lowest, _CMP_NGT_UQ);
    };
    // Software-pipelined in groups of kAhead outputs: a group's exps start (exp8_start_avx512:
    // the reduction and the table offsets) one pass before they finish (the table loads, the
    // polynomial, the sum in o order), so each exp's long chain to its table loads (a store
    // and scalar loads) overlaps the previous group's arithmetic. Measured on AMD Zen 5: this
    // softmax ~25 % faster than one whole exp after another (which out-of-order execution
    // overlapped poorly); two outputs ahead gained less, eight no more than four.
    constexpr int kAhead = 4;
    alignas(64) long long off[2][kAhead][8];  // table offsets of the group finishing, and the next
    gmath::Exp8Started started[kAhead], next[kAhead];
    auto start = [&](int i, long long (*o)[8], gmath::Exp8Started* st) __attribute__((target(SATRNN_AVX512_TARGET), always_inline)) {
#pragma GCC unroll 4
      for (int s = 0; s < kAhead; s += 2) {
        __m512d x0, x1;
        arguments(i + s, x0, x1);
        st[s] = gmath::exp8_start_avx512(x0, o[s]);
        st[s + 1] = gmath::exp8_start_avx512(x1, o[s + 1]);
      }
    };
    start(0, off[0], started);
#pragma GCC unroll 1
    for (int i = kAhead; i <= kVocab; i += kAhead) {
      const int cur = (i / kAhead - 1) & 1;  // off[cur]: outputs i - kAhead ...
      if (i < kVocab) start(i, off[cur ^ 1], next);
#pragma GCC unroll 4
      for (int s = 0; s < kAhead; ++s) E = _mm512_add_pd(E, gmath::exp8_finish_avx512(started[s], off[cur][s]));
#pragma GCC unroll 4
      for (int s = 0; s < kAhead; ++s) started[s] = next[s];
    }
    // Some row outside the range (never for real models): all eight take the scalar route,
    // as in Avx2Ops::bits8 (the vector results are discarded).
    if (outside) return bits_rows_scalar(logits, y, n, out);
    // e[y] again (the same argument gives the same value) instead of a compare per step.
    const __m512d ly = _mm512_set_pd(l7[y[7]], l6[y[6]], l5[y[5]], l4[y[4]], l3[y[3]], l2[y[2]], l1[y[1]], l0[y[0]]);
    const __m512d ey = gmath::exp8_nonpos_avx512(_mm512_sub_pd(ly, Mv));
    alignas(64) double Es[8], eys[8];
    _mm512_store_pd(Es, E);
    _mm512_store_pd(eys, ey);
    bits_from_sums(Es, eys, out);
  }
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

// Where a prediction's bits go: the bits array, or (tiles over every position, visited in t
// order) straight into the variant's running total, the spec's §5 sum continued.
inline void put_bits(const ReadoutBatch& b, size_t v, size_t t, double bits) {
  if (b.bits) b.bits[v * b.T + t] = bits;
  else b.totals[v] = b.totals[v] + bits;
}

inline bool selected(const ReadoutBatch& b, size_t t) { return !b.select || b.select[t]; }

// The probability row of variant v at position t, where the batch asks for rows.
inline void put_probs(const ReadoutBatch& b, size_t v, size_t t, const double* logit) {
  if (b.probs) probs_scalar(logit, b.probs + (v * b.rows + b.prob_row[t]) * kVocab);
}

inline bool cancelled(const std::atomic<bool>* cancel) {
  return cancel && cancel->load(std::memory_order_relaxed);
}


// The values op reads at a position whose state has h[j] = hj.
inline Change to_change(const Op& op, float hj) {
  const float from = read_as(op.from, hj);
  const float to = read_as(op.to, hj);
  const Change::Kind kind = op.from == kAbsent ? Change::kAdd : op.to == kAbsent ? Change::kSub : Change::kSwap;
  return {kind, op.j, from, to};
}

// Predictions waiting for the eight-lane softmax: (variant, position, logits) in the order
// they were made, so each variant's bits still reach its running total in t order.
template <typename Ops>
struct Lanes {
  const Ops& ops;
  const ReadoutBatch& b;
  const double* logit[kGroup];
  int y[kGroup];
  size_t v[kGroup], t[kGroup];
  size_t n = 0;
  size_t done = 0;  // predictions flushed

  Lanes(const Ops& o, const ReadoutBatch& batch) : ops(o), b(batch) {}
  // Queues one prediction; the logits must stay unchanged until the next flush.
  void push(const double* l, size_t variant, size_t pos) {
    logit[n] = l;
    y[n] = b.targets[pos];
    v[n] = variant;
    t[n] = pos;
    if (++n == kGroup) flush();
  }
  void flush() {
    if (n == 0) return;
    for (size_t k = n; k < kGroup; ++k) {  // idle lanes repeat lane 0 (results unused)
      logit[k] = logit[0];
      y[k] = y[0];
    }
    double bits[kGroup];
    ops.bits8(logit, y, n, bits);
    for (size_t k = 0; k < n; ++k) {
      put_bits(b, v[k], t[k], bits[k]);
      put_probs(b, v[k], t[k], logit[k]);
    }
    done += n;
    n = 0;
  }
};

// Positions outer, variants inner, both methods. Ordered: every logit summed over the kept
// terms in j order, the spec literally. Certified: the full sums and their certificate
// are computed once per position and shared by every variant of the tile. Predictions
// are evaluated eight at a time, in the order they are made, so their softmax sums
// interleave: eight variants of a position, or the variants of consecutive positions (one
// target per lane) when fewer than eight remain. Each variant still accumulates its bits
// in t order, so the totals are the same whatever the method, tiling or batching.
template <typename Ops>
void run_tile(const Ops& ops, const std::vector<Plan>& all, const ReadoutBatch& b, size_t v0, size_t v1, size_t t0, size_t t1,
              std::atomic<size_t>* progress, const std::atomic<bool>* cancel) {
  const ModelView& m = *b.model;
  const size_t H = m.H;
  const size_t nv = v1 - v0;
  if (nv == 0) return;
  const bool certified = b.method == Method::Certified && b.cert;
  // The batch's plans; a tile's first variant cannot build on a variant outside the tile.
  std::vector<const Plan*> plans(nv);
  for (size_t i = 0; i < nv; ++i) plans[i] = &all[v0 + i];
  Plan first;
  if (all[v0].base == Plan::kPrevious) {
    first = all[v0];
    choose_base(first, nullptr);
    plans[0] = &first;
  }
  // What the certified route needs per position: the full sums (some variant starts from
  // them), and their certificate only where some variant changes a term (a variant that is
  // its base unchanged needs no proof: the full sums are the all-value variant's ordered sums).
  bool need_sums = false, need_proof = false;
  if (certified)
    for (const Plan* p : plans) {
      need_sums = need_sums || p->base == Plan::kFull;
      need_proof = need_proof || (p->base != Plan::kOrdered && !p->ops.empty());
    }
  // The full sums of the last kGroup positions read (ring slot: the c-th position read
  // uses c % kGroup): a queued prediction may read its position's full sums until the
  // next flush, and at most kGroup - 1 predictions, of as many positions, wait.
  std::vector<double> S(kGroup * kVocab);
  std::vector<double> L(kGroup * kVocab);  // logits made here: slot c % kGroup for the c-th
  std::vector<int> min_exp(kVocab), uncertified;
  std::vector<float> r(H);
  std::vector<Change> changes(H);  // a plan has at most one op per neuron
  Lanes<Ops> lanes(ops, b);
  size_t slot = 0, read = 0, reported = 0;
  // Progress: the predictions flushed, published once per position (a shared counter
  // updated per flush costs cache-line transfers between threads).
  auto report = [&]() {
    if (progress && lanes.done > reported) progress->fetch_add(lanes.done - reported, std::memory_order_relaxed);
    reported = lanes.done;
  };
  uint64_t fallbacks = 0;
  for (size_t t = t0; t < t1; ++t) {
    if (cancelled(cancel)) return;
    if (!selected(b, t)) continue;
    const float* h = b.states + t * H;
    double* St = &S[(read++ % kGroup) * kVocab];
    bool resum_rows = false;
    if (need_proof) {
      ops.full_sums(h, St, min_exp.data());
      uncertified.clear();
      for (int o = 0; o < kVocab; ++o) {
        const int me = min_exp[o] < b.cert->min_exp[o] ? min_exp[o] : b.cert->min_exp[o];
        // All terms are multiples of 2^(me-150); every partial sum is below `bound`, so it
        // is exact when bound < 2^(me-150+53).
        if (me < 255 && !(b.cert->bound[o] < b.cert->limit[me])) uncertified.push_back(o);
      }
      // When many rows are uncertified (subnormal Wy or by weights make the certificate's
      // quantum tiny), per-logit scalar fix-ups cost more than re-summing the whole
      // variant with the vectorised ordered sums: both are the reference sums.
      resum_rows = uncertified.size() * 8 > static_cast<size_t>(kVocab);
    } else if (need_sums) {
      ops.sums(h, St);
    }
    const double* previous = nullptr;
    for (size_t i = 0; i < nv; ++i) {
      const Plan& p = *plans[i];
      // A slot is rewritten only after kGroup more writes, each followed by a push: by then
      // every queued prediction that reads it has been flushed.
      double* logit = &L[(slot % kGroup) * kVocab];
      const double* made = logit;
      if (!certified || p.base == Plan::kOrdered || (resum_rows && !p.ops.empty())) {
        ops.ordered_all(p, h, logit, r.data());
        if (certified && p.base != Plan::kOrdered) fallbacks += uncertified.size();
      } else {
        const double* base = p.base == Plan::kFull ? St : previous;
        if (p.ops.empty()) {
          // No change: the base logits are this variant's own ordered sums (the full sums
          // are the all-value variant's, a previous variant's logits are already exact).
          made = base;
        } else {
          Change* c = changes.data();
          for (const Op& op : p.ops) *c++ = to_change(op, h[op.j]);
          ops.derive(base, changes.data(), p.ops.size(), logit);
          for (int o : uncertified) logit[o] = ordered_logit(m, p, h, o);
          fallbacks += uncertified.size();
        }
      }
      if (made == logit) ++slot;
      previous = made;
      lanes.push(made, v0 + i, t);
    }
    report();
  }
  lanes.flush();
  report();
  if (b.fallbacks) b.fallbacks->fetch_add(fallbacks, std::memory_order_relaxed);
}

}  // namespace

// What every tile of a batch shares: the ISA's repacked Wy (shared with other batches of
// the same weights) and every variant's plan.
struct ReadoutPrep {
  Isa isa;
  const float* Wy;  // the weights the ops were made from (by follows Wy for one H)
  size_t H;
  std::shared_ptr<const ScalarOps> scalar;
#if defined(__x86_64__)
  std::shared_ptr<const Avx2Ops> avx2;
#endif
#if SATRNN_HAVE_EXP_AVX512
  std::shared_ptr<const Avx512Ops> avx512;
#endif
  std::vector<Plan> plans;
};

std::shared_ptr<const ReadoutPrep> prepare_readout(const ReadoutBatch& b, Isa isa, const ReadoutPrep* same_weights) {
  auto p = std::make_shared<ReadoutPrep>();
  p->isa = isa;
  p->Wy = b.model->Wy;
  p->H = b.model->H;
  const bool share = same_weights && same_weights->isa == isa && same_weights->Wy == p->Wy && same_weights->H == p->H;
#if SATRNN_HAVE_EXP_AVX512
  if (isa == Isa::Avx512) p->avx512 = share ? same_weights->avx512 : std::make_shared<const Avx512Ops>(*b.model);
  else
#endif
#if defined(__x86_64__)
  if (uses_avx2(isa)) p->avx2 = share ? same_weights->avx2 : std::make_shared<const Avx2Ops>(*b.model);
  else
#endif
    p->scalar = share ? same_weights->scalar : std::make_shared<const ScalarOps>(*b.model);
  p->plans.reserve(b.V);
  for (size_t v = 0; v < b.V; ++v) p->plans.push_back(make_plan(b, v));
  choose_bases(p->plans);
  return p;
}

void prepare_certificate(const ModelView& m, Certificate* c) {
  for (int o = 0; o < kVocab; ++o) {
    const float* w = m.Wy + static_cast<size_t>(o) * m.H;
    double a = std::fabs(static_cast<double>(m.by[o]));
    int me = exp_field(m.by[o]);
    for (size_t j = 0; j < m.H; ++j) {
      a = a + std::fabs(static_cast<double>(w[j]));
      const int e = exp_field(w[j]);
      me = e < me ? e : me;
    }
    // The bound is itself a rounded sum of at most 2^16 + 1 terms: relative error far
    // below 2^-40, so the inflated value is a true upper bound.
    c->bound[o] = a * (1.0 + std::ldexp(1.0, -40));
    c->min_exp[o] = me;
  }
  for (int e = 0; e < 256; ++e) c->limit[e] = std::ldexp(1.0, e - 97);
}

ReadoutStats readout_stats(const float* Wy, const float* by, size_t H, double* norms) {
  for (size_t j = 0; j < H; ++j) norms[j] = 0.0;
  for (int o = 0; o < kVocab; ++o)
    for (size_t j = 0; j < H; ++j) {
      const float w = Wy[static_cast<size_t>(o) * H + j];
      const float sq = w * w;  // rounded to float, then widened: the originals' norm
      norms[j] = norms[j] + static_cast<double>(sq);
    }
  for (size_t j = 0; j < H; ++j) norms[j] = std::sqrt(norms[j]);
  ReadoutStats s;
  float max_abs = 0.0f;
  auto scan = [&](const float* w, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const float a = std::fabs(w[i]);
      if (a != 0.0f && a < std::numeric_limits<float>::min()) ++s.subnormal;
      if (a > max_abs) max_abs = a;
    }
  };
  scan(Wy, static_cast<size_t>(kVocab) * H);
  scan(by, kVocab);
  s.max_abs = max_abs;
  return s;
}

void readout_tile(const ReadoutBatch& b, const ReadoutPrep& prep, size_t v0, size_t v1, size_t t0, size_t t1,
                  std::atomic<size_t>* progress, const std::atomic<bool>* cancel) {
#if SATRNN_HAVE_EXP_AVX512
  if (prep.avx512) return run_tile(*prep.avx512, prep.plans, b, v0, v1, t0, t1, progress, cancel);
#endif
#if defined(__x86_64__)
  if (prep.avx2) return run_tile(*prep.avx2, prep.plans, b, v0, v1, t0, t1, progress, cancel);
#endif
  run_tile(*prep.scalar, prep.plans, b, v0, v1, t0, t1, progress, cancel);
}

// |h| <= 1 exactly when the magnitude's bit pattern is at most that of 1.0f (NaN's is above).
// Checked on every block of a fused group: four lanes per SSE2 instruction, no early exit.
bool states_bounded(const float* states, size_t n) {
  size_t i = 0;
  bool outside = false;
#if defined(__SSE2__)
  const __m128i mag = _mm_set1_epi32(0x7fffffff), one = _mm_set1_epi32(0x3f800000);
  __m128i over = _mm_setzero_si128();
  for (; i + 4 <= n; i += 4) {
    const __m128i u = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(states + i)), mag);
    over = _mm_or_si128(over, _mm_cmpgt_epi32(u, one));
  }
  outside = _mm_movemask_epi8(over) != 0;
#endif
  for (; i < n; ++i) outside = outside || !(std::fabs(states[i]) <= 1.0f);
  return !outside;
}

void add_bits_in_order(const ReadoutBatch& b, double* totals) {
  for (size_t v = 0; v < b.V; ++v) {
    const double* bits = b.bits + v * b.T;
    double total = totals[v];
    for (size_t t = 0; t < b.T; ++t)
      if (selected(b, t)) total = total + bits[t];
    totals[v] = total;
  }
}

}  // namespace satrnn
