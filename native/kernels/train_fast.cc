// Fast, non-exact sat_train kernels (see train_fast.h). AVX2 + FMA via per-function
// target attributes (the file is built with the project's baseline flags), chosen at run
// time; otherwise the exact kernels of train.cc run.
//
// Structure of one training window of n predictions (hidden size H padded to Hp, a
// multiple of 8; the padding rows/columns of every matrix stay exactly zero):
//   forward recurrence  hs[t+1] = tanh(bh + WxT[x_t] + Wh hs[t])     sequential, 8-row dots
//   readout + softmax   per chunk of 8 time steps: P[o][t] = softmax(by + Wy hs[t+1])
//                       (a small GEMM, t in the vector lanes), loss, dy = P - onehot
//   DHY = dy^T Wy       per block of 8 time steps (GEMM), needed by the recurrence below
//   backward recurrence dr[t] = (DHY[t] + dnext) * (1 - h^2); dnext = Wh^T dr[t]  sequential
//   dWy = dy hn^T, dWh = dr hp^T    GEMMs over the window (K = n), in row-block tasks that
//                       also accumulate the squared norm; dby, dbh, dWx (used bytes only)
//   norm (double sum of fixed per-task partials), clip, SGD update w -= (lr*scale) g.
// The calling thread (T0) runs the two recurrences; the chunk/block/task lists are shared
// with an optional helper thread (T1, parked in the workspace between calls) through
// atomic claim counters. Which thread runs a task never changes its result, so the output
// is independent of scheduling (see "Synchronisation" below).
//
// Memory: Wx is kept transposed (WxT[256][Hp], the column of byte x contiguous) in the
// workspace for the duration of a call; Wh, bh, Wy, by are used in place in the caller's
// array when H % 8 == 0 (any alignment), otherwise in a zero-padded copy. Workspace
// buffers are the engine's big buffers (core/big_alloc.h: transparent huge pages from
// 128 KiB on): on this VM a 4 KiB page faulted in one at a time costs ~10 us.
#include "kernels/train_fast.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include "core/big_alloc.h"
#include "core/cpu.h"
#include "math/glibc_float.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SATRNN_FAST_X86 1
#include <immintrin.h>
#else
#define SATRNN_FAST_X86 0
#endif

namespace satrnn {

namespace fast_detail {

inline size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Grow-only array of atomics (reset by the caller).
class AtomicVec {
 public:
  std::atomic<int64_t>* get(size_t n) {
    if (n > cap_) {
      p_.reset(new std::atomic<int64_t>[n]);
      cap_ = n;
    }
    return p_.get();
  }

 private:
  std::unique_ptr<std::atomic<int64_t>[]> p_;
  size_t cap_ = 0;
};

// CPUs this thread may run on (the affinity mask on Linux).
inline int available_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
  return static_cast<int>(std::thread::hardware_concurrency());
}

// A helper thread for the calls made with one workspace: run(job) hands it a job, wait()
// blocks until it has finished. Between jobs the helper polls for the next one for a
// short while before it parks on a condition variable: calls come back to back during
// training, and waking a parked thread (a halted vCPU) takes 0.05-3 ms on this machine
// class. At each job the helper is kept off the caller's current CPU (the scheduler
// otherwise tends to wake it there, behind the busy caller).
class Worker {
 public:
  ~Worker() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      quit_ = true;
      posted_.fetch_add(1);
    }
    cv_.notify_all();
    thread_.join();
  }
  // False if the thread cannot be started (the job is then not run).
  bool run(std::function<void()> job) {
    if (!thread_.joinable()) {
      try {
        thread_ = std::thread([this] { loop(); });
      } catch (...) {
        return false;
      }
    }
    keep_off_current_cpu();
    no_poll_.store(false, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = std::move(job);
      posted_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    return true;
  }
  // Moves the helper onto the caller's current CPU (used when it is stuck behind another
  // process on its own CPU: the caller then yields to it) and makes it park, rather than
  // poll, once its job is done.
  void pull_here() {
    no_poll_.store(true, std::memory_order_relaxed);
#if defined(__linux__)
    const int c = sched_getcpu();
    if (c < 0 || !thread_.joinable()) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(c, &set);
    pthread_setaffinity_np(thread_.native_handle(), sizeof set, &set);
#endif
  }

  // Waits until the job has finished.
  void wait() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return finished_ == posted_.load(std::memory_order_relaxed); });
    job_ = nullptr;
  }

 private:
  void keep_off_current_cpu() {
#if defined(__linux__)
    const int c = sched_getcpu();
    cpu_set_t set;
    if (c < 0 || sched_getaffinity(0, sizeof set, &set) != 0 || !CPU_ISSET(c, &set) ||
        CPU_COUNT(&set) < 2)
      return;
    CPU_CLR(c, &set);
    pthread_setaffinity_np(thread_.native_handle(), sizeof set, &set);
#endif
  }
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      // Poll for ~2 ms, then park.
      const auto t0 = std::chrono::steady_clock::now();
      for (unsigned spins = 0; posted_.load(std::memory_order_acquire) == seen &&
                               !no_poll_.load(std::memory_order_relaxed);
           ++spins) {
        relax();
        if ((spins & 1023) == 1023 && std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(2))
          break;
      }
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return posted_.load(std::memory_order_relaxed) != seen; });
        if (quit_) return;
        seen = posted_.load(std::memory_order_relaxed);
        job = job_;
      }
      job();
      {
        std::lock_guard<std::mutex> l(mu_);
        finished_ = seen;
      }
      cv_.notify_all();
    }
  }
  static void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  std::atomic<uint64_t> posted_{0};
  std::atomic<bool> no_poll_{false};
  uint64_t finished_ = 0;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace fast_detail

using namespace fast_detail;

struct FastWorkspace::Impl {
  Worker worker;
  BigBuffer<float> wxT, copy, gwy, gwh, gbh, gby, gxs, hs, P, dhy, dr, dnext, hnt0, hnt1, loss, ring,
      P0, P1;
  AtomicVec ro_ready, dhy_ready, slot_done;
  std::vector<double> partial;
  std::atomic<bool> in_use{false};
  float* buf(BigBuffer<float>& v, size_t n) { return v.reserve(n); }
};

FastWorkspace::FastWorkspace() : impl_(new Impl) {}
FastWorkspace::~FastWorkspace() = default;

#if SATRNN_FAST_X86
namespace {

#define FAST __attribute__((target("avx2,fma")))

// The model in the internal layout (see the file comment). wxT and the copy are 64-byte
// aligned; the in-place pointers have the caller's alignment (unaligned loads are used).
struct Model {
  size_t H = 0, Hp = 0;
  float* wxT = nullptr;  // [256][Hp]
  float* wh = nullptr;   // [Hp][Hp]
  float* bh = nullptr;   // [Hp]
  float* wy = nullptr;   // [256][Hp]
  float* by = nullptr;   // [256]
  bool direct = false;   // wh, bh, wy, by point into the caller's array
};

// ---------------------------------------------------------------------------------------
// Vector math.

// tanh: odd rational minimax approximation (Eigen's generic_fast_tanh_float), max relative
// error 2.9e-7 over [-10, 10] (checked against double tanh); tanh(0) = 0 exactly.
FAST inline __m256 tanh8(__m256 x) {
  const __m256 c = _mm256_set1_ps(7.99881172180175781f);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), c)), c);
  const __m256 x2 = _mm256_mul_ps(xc, xc);
  __m256 p = _mm256_set1_ps(-2.76076847742355e-16f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.00018790482477e-13f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-8.60467152213735e-11f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(5.12229709037114e-08f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.48572235717979e-05f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(6.37261928875436e-04f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(4.89352455891786e-03f));
  p = _mm256_mul_ps(p, xc);
  __m256 q = _mm256_set1_ps(1.19825839466702e-06f);
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(1.18534705686654e-04f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(2.26843463243900e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(4.89352518554385e-03f));
  const __m256 r = _mm256_div_ps(p, q);
  const __m256 tiny =
      _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.0004f), _CMP_LT_OQ);
  return _mm256_blendv_ps(r, x, tiny);
}

// exp for the softmax arguments (x <= 0): Cephes-style range reduction and degree-6
// polynomial, max relative error 8.4e-8 on [-87, 0]; 0 below -87.3 (no denormals).
FAST inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(x, lo);
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  const __m256 r2 = _mm256_mul_ps(r, r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  p = _mm256_fmadd_ps(p, r2, r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(fx), 23);
  const __m256 res = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
  return _mm256_andnot_ps(under, res);
}

// Lane r of the result = sum of the 8 lanes of a[r].
FAST inline __m256 hsum8x8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]);
  const __m256 t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]);
  const __m256 t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1);
  const __m256 u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

FAST inline double hsum_d(__m256 v) {
  const __m256d d = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                  _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  alignas(32) double t[4];
  _mm256_store_pd(t, d);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

// In-register 8x8 transpose: afterwards r[k] holds lane k of the eight input rows.
FAST inline void transpose8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// out[j*8 + r] = rows[r][j] for r < nrows (0 for r >= nrows), j < Hp: the chunk of up to
// 8 hidden states (row stride Hp) transposed so that time is in the vector lanes.
FAST void transpose_chunk(const float* rows, int nrows, size_t Hp, float* out) {
  for (size_t j = 0; j < Hp; j += 8) {
    __m256 r[8];
    for (int k = 0; k < 8; ++k)
      r[k] = k < nrows ? _mm256_load_ps(rows + k * Hp + j) : _mm256_setzero_ps();
    transpose8(r);
    for (int k = 0; k < 8; ++k) _mm256_store_ps(out + j * 8 + 8 * k, r[k]);
  }
}

// dst[k*ldd + r] = src[r*lds + k] for r, k < 8.
FAST inline void transpose8x8(const float* src, size_t lds, float* dst, size_t ldd) {
  __m256 r[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + k * lds);
  transpose8(r);
  for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + k * ldd, r[k]);
}

// Binds m to the caller's weights (original layout, H) using workspace memory: WxT is
// transposed in; Wh, bh, Wy, by are used in place when possible, else copied (padded).
FAST void model_bind(Model& m, float* w, size_t H, FastWorkspace::Impl& ws) {
  const size_t Hp = round_up(H, 8);
  m.H = H;
  m.Hp = Hp;
  m.wxT = ws.buf(ws.wxT, kVocab * Hp);
  const ParamViews<float> v(w, H);
  const float* Wx = v.Wx;
  float *Wh = v.Wh, *Bh = v.bh, *Wy = v.Wy, *By = v.by;
  const size_t H8 = H / 8 * 8;
  for (size_t i = 0; i < H8; i += 8)
    for (int x = 0; x < kVocab; x += 8)
      transpose8x8(Wx + i * kVocab + x, kVocab, m.wxT + static_cast<size_t>(x) * Hp + i, Hp);
  for (int x = 0; x < kVocab; ++x)
    for (size_t i = H8; i < Hp; ++i)
      m.wxT[static_cast<size_t>(x) * Hp + i] = i < H ? Wx[i * kVocab + x] : 0.0f;
  m.direct = H == Hp;
  if (m.direct) {
    m.wh = Wh;
    m.bh = Bh;
    m.wy = Wy;
    m.by = By;
    return;
  }
  float* c = ws.buf(ws.copy, Hp * Hp + Hp + kVocab * Hp + kVocab);
  m.wh = c;
  m.bh = m.wh + Hp * Hp;
  m.wy = m.bh + Hp;
  m.by = m.wy + kVocab * Hp;
  for (size_t i = 0; i < Hp; ++i)
    for (size_t j = 0; j < Hp; ++j) m.wh[i * Hp + j] = i < H && j < H ? Wh[i * H + j] : 0.0f;
  for (size_t i = 0; i < Hp; ++i) m.bh[i] = i < H ? Bh[i] : 0.0f;
  for (int o = 0; o < kVocab; ++o)
    for (size_t j = 0; j < Hp; ++j) m.wy[static_cast<size_t>(o) * Hp + j] = j < H ? Wy[o * H + j] : 0.0f;
  std::memcpy(m.by, By, kVocab * sizeof(float));
}

// Writes m back into the caller's weights (WxT, and the copy if not in place).
FAST void model_store(const Model& m, float* w) {
  const size_t H = m.H, Hp = m.Hp;
  const ParamViews<float> v(w, H);
  float *Wx = v.Wx, *Wh = v.Wh, *Bh = v.bh, *Wy = v.Wy, *By = v.by;
  const size_t H8 = H / 8 * 8;
  for (size_t i = 0; i < H8; i += 8)
    for (int x = 0; x < kVocab; x += 8)
      transpose8x8(m.wxT + static_cast<size_t>(x) * Hp + i, Hp, Wx + i * kVocab + x, kVocab);
  for (size_t i = H8; i < H; ++i)
    for (int x = 0; x < kVocab; ++x) Wx[i * kVocab + x] = m.wxT[static_cast<size_t>(x) * Hp + i];
  if (m.direct) return;
  for (size_t i = 0; i < H; ++i) std::memcpy(Wh + i * H, m.wh + i * Hp, H * sizeof(float));
  std::memcpy(Bh, m.bh, H * sizeof(float));
  for (int o = 0; o < kVocab; ++o)
    std::memcpy(Wy + static_cast<size_t>(o) * H, m.wy + static_cast<size_t>(o) * Hp, H * sizeof(float));
  std::memcpy(By, m.by, kVocab * sizeof(float));
}

// ---------------------------------------------------------------------------------------
// GEMM: C[r][8v + l] = sum_{k<K} A(r, k) * B[k*ldb + 8v + l] for r < M, v < NVT, where
// A(r, k) = A0[r*ai + (k>>3)*ag + (k&7)*ak] (covers plain strided matrices and the chunked
// [chunk][256][8] probability layout). If sq is given, the squares of all C elements are
// accumulated into it (gradient norm).

struct AMap {
  const float* a0;
  ptrdiff_t ai, ag, ak;
};

template <int MR, int NV>
FAST inline void gemm_tile(size_t K, const AMap& A, const float* B, size_t ldb, float* C,
                           size_t ldc, __m256* sq) {
  __m256 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (size_t k = 0; k < K; ++k) {
    const float* a = A.a0 + static_cast<ptrdiff_t>(k >> 3) * A.ag + static_cast<ptrdiff_t>(k & 7) * A.ak;
    const float* b = B + k * ldb;
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * A.ai);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      _mm256_storeu_ps(C + r * ldc + 8 * v, acc[r][v]);
      if (sq) *sq = _mm256_fmadd_ps(acc[r][v], acc[r][v], *sq);
    }
}

// The last rem (< R + 1) rows: one tile of exactly rem rows.
template <int R, int NV>
FAST inline void gemm_tail(size_t rem, size_t K, const AMap& A, const float* B, size_t ldb,
                           float* C, size_t ldc, __m256* sq) {
  if constexpr (R > 0) {
    if (rem == R) gemm_tile<R, NV>(K, A, B, ldb, C, ldc, sq);
    else gemm_tail<R - 1, NV>(rem, K, A, B, ldb, C, ldc, sq);
  }
}

template <int MR, int NV>
FAST inline void gemm_rows(size_t M, size_t K, AMap A, const float* B, size_t ldb, float* C,
                           size_t ldc, __m256* sq) {
  size_t r = 0;
  for (; r + MR <= M; r += MR) {
    AMap a = A;
    a.a0 += static_cast<ptrdiff_t>(r) * A.ai;
    gemm_tile<MR, NV>(K, a, B, ldb, C + r * ldc, ldc, sq);
  }
  AMap a = A;
  a.a0 += static_cast<ptrdiff_t>(r) * A.ai;
  gemm_tail<MR - 1, NV>(M - r, K, a, B, ldb, C + r * ldc, ldc, sq);
}

// Column blocks of 8*NV with MR x NV tiles, then the remaining 8-column blocks with 8x1
// tiles.
template <int MR, int NV>
FAST void gemm(size_t M, size_t NVT, size_t K, const AMap& A, const float* B, size_t ldb,
               float* C, size_t ldc, __m256* sq) {
  size_t v = 0;
  for (; v + NV <= NVT; v += NV) gemm_rows<MR, NV>(M, K, A, B + 8 * v, ldb, C + 8 * v, ldc, sq);
  for (; v < NVT; ++v) gemm_rows<8, 1>(M, K, A, B + 8 * v, ldb, C + 8 * v, ldc, sq);
}

// ---------------------------------------------------------------------------------------
// Recurrences.

// hn = tanh(bh + WxT[x] + Wh h): each group of 8 units is 8 dot products along j.
FAST void fwd_step(const Model& m, const float* h, uint8_t x, float* hn) {
  const size_t Hp = m.Hp;
  const float* wx = m.wxT + static_cast<size_t>(x) * Hp;
  for (size_t i0 = 0; i0 < Hp; i0 += 8) {
    const float* r = m.wh + i0 * Hp;
    __m256 a[8];
    for (int k = 0; k < 8; ++k) a[k] = _mm256_setzero_ps();
    for (size_t j = 0; j < Hp; j += 8) {
      const __m256 hv = _mm256_load_ps(h + j);
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) a[k] = _mm256_fmadd_ps(_mm256_loadu_ps(r + k * Hp + j), hv, a[k]);
    }
    __m256 s = hsum8x8(a);
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_loadu_ps(m.bh + i0), _mm256_load_ps(wx + i0)));
    _mm256_store_ps(hn + i0, tanh8(s));
  }
}

// out[j0 + 8v + l] = sum_{i<ni} Wh[i][j0 + 8v + l] * dr[i], v < NB.
template <int NB>
FAST inline void wht_block(const float* wh, size_t Hp, size_t ni, const float* dr, size_t j0,
                           float* out) {
  __m256 acc[NB];
#pragma GCC unroll 8
  for (int v = 0; v < NB; ++v) acc[v] = _mm256_setzero_ps();
  for (size_t i = 0; i < ni; ++i) {
    const __m256 a = _mm256_broadcast_ss(dr + i);
    const float* w = wh + i * Hp + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) acc[v] = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8 * v), a, acc[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NB; ++v) _mm256_store_ps(out + j0 + 8 * v, acc[v]);
}

// dr = (dhy + dnext) * (1 - hn^2); then, if wanted, dnext = Wh^T dr.
FAST void bwd_step(const Model& m, const float* dhy, const float* hn, float* dnext, float* dr,
                   bool want_dnext) {
  const size_t Hp = m.Hp;
  const __m256 one = _mm256_set1_ps(1.0f);
  for (size_t j = 0; j < Hp; j += 8) {
    const __m256 d = _mm256_add_ps(_mm256_load_ps(dhy + j), _mm256_load_ps(dnext + j));
    const __m256 h = _mm256_load_ps(hn + j);
    _mm256_store_ps(dr + j, _mm256_mul_ps(d, _mm256_fnmadd_ps(h, h, one)));
  }
  if (!want_dnext) return;
  size_t j0 = 0;
  for (; j0 + 64 <= Hp; j0 += 64) wht_block<8>(m.wh, Hp, m.H, dr, j0, dnext);
  switch ((Hp - j0) / 8) {
    case 0: break;
    case 1: wht_block<1>(m.wh, Hp, m.H, dr, j0, dnext); break;
    case 2: wht_block<2>(m.wh, Hp, m.H, dr, j0, dnext); break;
    case 3: wht_block<3>(m.wh, Hp, m.H, dr, j0, dnext); break;
    case 4: wht_block<4>(m.wh, Hp, m.H, dr, j0, dnext); break;
    case 5: wht_block<5>(m.wh, Hp, m.H, dr, j0, dnext); break;
    case 6: wht_block<6>(m.wh, Hp, m.H, dr, j0, dnext); break;
    default: wht_block<7>(m.wh, Hp, m.H, dr, j0, dnext); break;
  }
}

// ---------------------------------------------------------------------------------------
// Readout of one chunk of up to 8 time steps: P[o*8 + l] = softmax_o(by + Wy h_l), where
// hnt = the chunk's hidden states transposed (transpose_chunk). Lanes beyond the chunk see
// h = 0 and get finite values.
FAST void readout_chunk(const Model& m, const float* hnt, float* P) {
  const AMap A{m.wy, static_cast<ptrdiff_t>(m.Hp), 8, 1};
  gemm_rows<8, 1>(kVocab, m.Hp, A, hnt, 8, P, 8, nullptr);
  __m256 mx[4];
  for (int u = 0; u < 4; ++u)
    mx[u] = _mm256_add_ps(_mm256_load_ps(P + u * 8), _mm256_set1_ps(m.by[u]));
  for (int o = 0; o < kVocab; o += 4)
    for (int u = 0; u < 4; ++u) {
      const __m256 l = _mm256_add_ps(_mm256_load_ps(P + (o + u) * 8), _mm256_set1_ps(m.by[o + u]));
      _mm256_store_ps(P + (o + u) * 8, l);
      mx[u] = _mm256_max_ps(mx[u], l);
    }
  const __m256 mv = _mm256_max_ps(_mm256_max_ps(mx[0], mx[1]), _mm256_max_ps(mx[2], mx[3]));
  __m256 s[4];
  for (int u = 0; u < 4; ++u) s[u] = _mm256_setzero_ps();
  for (int o = 0; o < kVocab; o += 4)
    for (int u = 0; u < 4; ++u) {
      const __m256 e = exp8(_mm256_sub_ps(_mm256_load_ps(P + (o + u) * 8), mv));
      _mm256_store_ps(P + (o + u) * 8, e);
      s[u] = _mm256_add_ps(s[u], e);
    }
  const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f),
                                   _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])));
  for (int o = 0; o < kVocab; ++o)
    _mm256_store_ps(P + o * 8, _mm256_mul_ps(_mm256_load_ps(P + o * 8), inv));
}

// The spec's per-prediction loss: -logf(max(p, 1e-8f)) with glibc-exact logf.
inline float pred_loss(float q) {
  if (q < 1e-8f) q = 1e-8f;
  return -gmath::logf(q);
}

// w -= k * g over n elements (n a multiple of 8).
FAST void sgd(float* w, const float* g, size_t n, float k) {
  const __m256 kv = _mm256_set1_ps(k);
  for (size_t i = 0; i < n; i += 8)
    _mm256_storeu_ps(w + i, _mm256_fnmadd_ps(kv, _mm256_load_ps(g + i), _mm256_loadu_ps(w + i)));
}

// Sum of squares of n elements (n a multiple of 8) into a vector accumulator.
FAST void sumsq(const float* g, size_t n, __m256* acc) {
  for (size_t i = 0; i < n; i += 8) {
    const __m256 v = _mm256_load_ps(g + i);
    *acc = _mm256_fmadd_ps(v, v, *acc);
  }
}

// ---------------------------------------------------------------------------------------
// Synchronisation.
//
// Work items (readout chunks, DHY blocks, gradient tasks, the Wy/by update) are numbered
// by cumulative counters that never go back (window w's items follow window w-1's), and
// are claimed with a compare-and-swap below the current window's limit, so a late thread
// can never claim an item of another window by mistake. Completion is published with
// release stores / read with acquire loads.
//
// The calling thread T0 never depends on the helper T1 except for items T1 has already
// claimed. If T0 ever waits long for such an item (T1 was descheduled, e.g. on a busy
// machine), it sets `solo` (T1 then claims nothing more and T0 carries on alone) and
// pulls T1 onto its own CPU to let it finish the item. Which thread runs an item never
// changes its result, so none of this affects the output.

struct alignas(64) Counter {
  std::atomic<int64_t> v{0};
};

// Claim the next index of ctr if it is below limit.
inline bool claim(std::atomic<int64_t>& ctr, int64_t limit, int64_t* got) {
  int64_t v = ctr.load(std::memory_order_acquire);
  while (v < limit)
    if (ctr.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      *got = v;
      return true;
    }
  return false;
}

FAST inline void cpu_relax() { _mm_pause(); }

inline int64_t ld(const std::atomic<int64_t>& a) { return a.load(std::memory_order_acquire); }

struct Team {
  std::atomic<bool> stop{false};  // T0 -> T1: exit now
  std::atomic<bool> solo{false};  // T0 -> T1: claim nothing more
  bool threaded = false;          // a helper was started
  Worker* worker = nullptr;       // the helper's worker, when threaded
  // A wait longer than this means the helper is not running: 100 us plus four times a
  // pessimistic estimate (20 GMAC/s) of the largest item.
  std::chrono::microseconds stall_limit{100};
  void set_largest_item(double macs) {
    stall_limit = std::chrono::microseconds(100 + static_cast<int64_t>(4.0 * macs / 2e4));
  }

  bool quit() const {
    return stop.load(std::memory_order_relaxed) || solo.load(std::memory_order_relaxed);
  }

  // T0: until cond(); work() may do something useful meanwhile (returns true if it did).
  // A long wait means T1 holds an item but is not running (descheduled in favour of
  // another process on its CPU): go solo, pull T1 onto this CPU and yield to it until the
  // item is done (otherwise the wait lasts until the other process's time slice ends).
  template <class Cond, class Work>
  void wait_t0(Cond cond, Work work) {
    if (cond()) return;
    auto t_start = std::chrono::steady_clock::now();
    bool stalled = false;
    for (unsigned spins = 1; !cond(); ++spins) {
      if (work()) {  // only idle time counts towards the stall limit
        t_start = std::chrono::steady_clock::now();
        continue;
      }
      if (stalled) {
        std::this_thread::yield();
        continue;
      }
      cpu_relax();
      if ((spins & 255) == 0 && std::chrono::steady_clock::now() - t_start > stall_limit) {
        stalled = true;
        solo.store(true, std::memory_order_relaxed);
        if (worker) worker->pull_here();
      }
    }
  }
  template <class Cond>
  void wait_t0(Cond cond) {
    wait_t0(cond, [] { return false; });
  }

  // T1: until cond(); false if stopped first.
  template <class Cond>
  bool wait_t1(Cond cond) {
    for (unsigned spins = 0; !cond(); ++spins) {
      if (stop.load(std::memory_order_relaxed)) return false;
      if (spins < 4096) cpu_relax();
      else std::this_thread::yield();
    }
    return true;
  }
};

// The helper's share of a call is posted to the workspace's parked Worker.
// threads: 1 never, 2 always, 0 when this thread may run on 2+ CPUs and the work is large
// enough to pay for the hand-offs.
bool want_threads(int threads, size_t H, size_t work) {
  if (threads == 1) return false;
  if (threads >= 2) return true;
  return available_cpus() >= 2 && H >= 48 && work >= 256;
}

// Marks a workspace busy for one call (a second concurrent call is a usage error).
class InUse {
 public:
  explicit InUse(FastWorkspace::Impl& ws) : ws_(ws) {
    if (ws_.in_use.exchange(true))
      throw std::logic_error("FastWorkspace used by two calls at once");
  }
  ~InUse() { ws_.in_use.store(false); }

 private:
  FastWorkspace::Impl& ws_;
};

// ---------------------------------------------------------------------------------------
// Training epoch.

constexpr size_t kChunk = 8;  // time steps per readout chunk / DHY block
constexpr size_t kChunkFloats = kChunk * kVocab;
constexpr size_t kTaskRows = 32;  // rows per dWy / dWh task

struct Trainer {
  const uint8_t* data;
  size_t len;
  float lr;
  TrainParams p;
  FastWorkspace::Impl& ws;
  size_t H, Hp, B, maxn, maxc, ny, nh;
  Model m;
  float *gwy, *gwh, *gbh, *gby, *gxs, *hs, *P, *dhy, *dr, *dnext, *hnt0, *hnt1, *loss;
  std::atomic<int64_t>*ro_ready, *dhy_ready;
  double* partial;  // squared norm per gradient task, then do_small's
  int16_t slot_of[kVocab];
  uint8_t used_list[kVocab];
  int nused = 0;
  Counter fwd_steps, ro_next, ro_done, dhy_next, gw_next, gw_done, bwd_done, upd_next, upd_done;
  Team team;

  Trainer(const uint8_t* d, size_t l, float r, const TrainParams& pp, FastWorkspace::Impl& w)
      : data(d), len(l), lr(r), p(pp), ws(w), H(pp.H), Hp(round_up(pp.H, 8)),
        B(static_cast<size_t>(pp.bptt)), maxn(std::max<size_t>(1, std::min(B, len > 1 ? len - 1 : 1))),
        maxc((maxn + kChunk - 1) / kChunk), ny(kVocab / kTaskRows),
        nh((Hp + kTaskRows - 1) / kTaskRows) {
    gwy = ws.buf(ws.gwy, kVocab * Hp);
    gwh = ws.buf(ws.gwh, Hp * Hp);
    gbh = ws.buf(ws.gbh, Hp);
    gby = ws.buf(ws.gby, kVocab);
    gxs = ws.buf(ws.gxs, std::min<size_t>(kVocab, maxn) * Hp);
    hs = ws.buf(ws.hs, (maxc * kChunk + 1) * Hp);
    P = ws.buf(ws.P, maxc * kChunkFloats);
    dhy = ws.buf(ws.dhy, maxc * kChunk * Hp);
    dr = ws.buf(ws.dr, maxc * kChunk * Hp);
    dnext = ws.buf(ws.dnext, Hp);
    hnt0 = ws.buf(ws.hnt0, Hp * 8);
    hnt1 = ws.buf(ws.hnt1, Hp * 8);
    loss = ws.buf(ws.loss, maxc * kChunk);
    ro_ready = ws.ro_ready.get(maxc);
    dhy_ready = ws.dhy_ready.get(maxc);
    for (size_t c = 0; c < maxc; ++c) {
      ro_ready[c].store(0);
      dhy_ready[c].store(0);
    }
    ws.partial.assign(ny + nh + 1, 0.0);
    partial = ws.partial.data();
    for (int x = 0; x < kVocab; ++x) slot_of[x] = -1;
  }

  // Window geometry and cumulative item bases (computed identically by both threads).
  struct Win {
    int64_t w;  // window index
    size_t pos, n, nch;
    int64_t fwd_base, ro_base, dhy_base, gw_base, done_base;
    int64_t ro_lim() const { return ro_base + static_cast<int64_t>(nch); }
    int64_t dhy_lim() const { return dhy_base + static_cast<int64_t>(nch); }
  };
  int64_t gw_lim(const Win& W) const { return W.gw_base + static_cast<int64_t>(ny + nh); }
  int64_t done_lim(const Win& W) const { return W.done_base + static_cast<int64_t>(ny + nh + 1); }

  template <class F>
  void for_each_window(F f) {
    Win W{0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t pos = 0; pos + 1 < len; pos += B) {
      W.pos = pos;
      W.n = std::min(B + 1, len - pos) - 1;
      W.nch = (W.n + kChunk - 1) / kChunk;
      if (!f(W)) return;
      W.fwd_base += static_cast<int64_t>(W.n);
      W.ro_base += static_cast<int64_t>(W.nch);
      W.dhy_base += static_cast<int64_t>(W.nch);
      W.gw_base += static_cast<int64_t>(ny + nh);
      W.done_base += static_cast<int64_t>(ny + nh + 1);
      ++W.w;
    }
  }

  // Readout chunk c: probabilities, losses, dy = P - onehot (pad lanes zeroed).
  FAST void do_readout(const Win& W, size_t c, float* hnt) {
    const size_t t0 = c * kChunk;
    const int rows = static_cast<int>(std::min(kChunk, W.n - t0));
    transpose_chunk(hs + (t0 + 1) * Hp, rows, Hp, hnt);
    float* Pc = P + c * kChunkFloats;
    readout_chunk(m, hnt, Pc);
    const uint8_t* win = data + W.pos;
    for (int l = 0; l < rows; ++l) {
      const size_t tg = win[t0 + l + 1];
      const float q = Pc[tg * 8 + l];
      loss[t0 + l] = pred_loss(q);
      Pc[tg * 8 + l] = q - 1.0f;
    }
    if (rows < 8)
      for (int o = 0; o < kVocab; ++o)
        for (int l = rows; l < 8; ++l) Pc[o * 8 + l] = 0.0f;
    ro_ready[c].store(W.w + 1, std::memory_order_release);
    ro_done.v.fetch_add(1, std::memory_order_acq_rel);
  }

  // DHY rows of block b: DHY[t][j] = sum_o dy[t][o] Wy[o][j].
  FAST void do_dhy(const Win& W, size_t b) {
    const size_t t0 = b * kChunk;
    const size_t rows = std::min(kChunk, W.n - t0);
    const AMap A{P + b * kChunkFloats, 1, 64, 8};
    gemm<4, 3>(rows, Hp / 8, kVocab, A, m.wy, Hp, dhy + t0 * Hp, Hp, nullptr);
    dhy_ready[b].store(W.w + 1, std::memory_order_release);
  }

  // Gradient task q: q < ny: 32 rows of dWy = dy^T hn; else rows of dWh = dr^T hp.
  FAST void do_grad(const Win& W, size_t q) {
    __m256 sq = _mm256_setzero_ps();
    if (q < ny) {
      const size_t o0 = q * kTaskRows;
      const AMap A{P + o0 * 8, 8, static_cast<ptrdiff_t>(kChunkFloats), 1};
      gemm<4, 3>(kTaskRows, Hp / 8, W.n, A, hs + Hp, Hp, gwy + o0 * Hp, Hp, &sq);
    } else {
      const size_t i0 = (q - ny) * kTaskRows;
      const size_t rows = std::min(kTaskRows, Hp - i0);
      const AMap A{dr + i0, 1, static_cast<ptrdiff_t>(8 * Hp), static_cast<ptrdiff_t>(Hp)};
      gemm<4, 3>(rows, Hp / 8, W.n, A, hs, Hp, gwh + i0 * Hp, Hp, &sq);
    }
    partial[q] = hsum_d(sq);
    gw_done.v.fetch_add(1, std::memory_order_acq_rel);
  }

  // dbh, dby, dWx (one row per distinct input byte of the window) and their squared norm.
  FAST void do_small(const Win& W) {
    const uint8_t* win = data + W.pos;
    __m256 sq = _mm256_setzero_ps();
    for (size_t j = 0; j < Hp; j += 8) {
      __m256 s = _mm256_setzero_ps();
      for (size_t t = 0; t < W.n; ++t) s = _mm256_add_ps(s, _mm256_load_ps(dr + t * Hp + j));
      _mm256_store_ps(gbh + j, s);
      sq = _mm256_fmadd_ps(s, s, sq);
    }
    for (int s = 0; s < nused; ++s) slot_of[used_list[s]] = -1;
    nused = 0;
    for (size_t t = 0; t < W.n; ++t) {
      const uint8_t x = win[t];
      const float* d = dr + t * Hp;
      if (slot_of[x] < 0) {
        slot_of[x] = static_cast<int16_t>(nused);
        used_list[nused++] = x;
        std::memcpy(gxs + static_cast<size_t>(slot_of[x]) * Hp, d, Hp * sizeof(float));
        continue;
      }
      float* gx = gxs + static_cast<size_t>(slot_of[x]) * Hp;
      for (size_t j = 0; j < Hp; j += 8)
        _mm256_store_ps(gx + j, _mm256_add_ps(_mm256_load_ps(gx + j), _mm256_load_ps(d + j)));
    }
    sumsq(gxs, static_cast<size_t>(nused) * Hp, &sq);
    for (int o0 = 0; o0 < kVocab; o0 += 8) {
      __m256 a[8];
      for (int k = 0; k < 8; ++k) a[k] = _mm256_setzero_ps();
      for (size_t c = 0; c < W.nch; ++c) {
        const float* Pc = P + c * kChunkFloats + o0 * 8;
        for (int k = 0; k < 8; ++k) a[k] = _mm256_add_ps(a[k], _mm256_load_ps(Pc + k * 8));
      }
      const __m256 s = hsum8x8(a);
      _mm256_store_ps(gby + o0, s);
      sq = _mm256_fmadd_ps(s, s, sq);
    }
    partial[ny + nh] = hsum_d(sq);
    gw_done.v.fetch_add(1, std::memory_order_acq_rel);
  }

  // lr * clip scale from the squared-norm partials (fixed order).
  float step_size() const {
    double s = 0.0;
    for (size_t q = 0; q < ny + nh + 1; ++q) s += partial[q];
    const float nrm = static_cast<float>(std::sqrt(s));
    const float scale = nrm > p.clip ? p.clip / nrm : 1.0f;
    return lr * scale;
  }

  // SGD on Wh, bh and the used columns of Wx (T0), and on Wy, by (either thread).
  FAST void update_hidden(float k) {
    sgd(m.wh, gwh, Hp * Hp, k);
    sgd(m.bh, gbh, Hp, k);
    for (int s = 0; s < nused; ++s)
      sgd(m.wxT + static_cast<size_t>(used_list[s]) * Hp, gxs + static_cast<size_t>(s) * Hp, Hp, k);
  }
  FAST void update_output(float k) {
    sgd(m.wy, gwy, kVocab * Hp, k);
    sgd(m.by, gby, kVocab, k);
  }

  // One window on the calling thread T0.
  FAST void t0_window(const Win& W, double* total_loss, int64_t* total_chars) {
    const uint8_t* win = data + W.pos;
    int64_t k;
    // Forward recurrence.
    for (size_t t = 0; t < W.n; ++t) {
      fwd_step(m, hs + t * Hp, win[t], hs + (t + 1) * Hp);
      fwd_steps.v.store(W.fwd_base + static_cast<int64_t>(t) + 1, std::memory_order_release);
    }
    // Wy and by must carry the previous window's update (possibly made by T1).
    team.wait_t0([&] { return ld(upd_done.v) >= W.w; });
    while (claim(ro_next.v, W.ro_lim(), &k)) do_readout(W, static_cast<size_t>(k - W.ro_base), hnt0);
    // Backward recurrence; computes DHY blocks itself while the next one is not ready.
    std::memset(dnext, 0, Hp * sizeof(float));
    for (size_t t = W.n; t-- > 0;) {
      const size_t b = t / kChunk;
      team.wait_t0([&] { return ld(dhy_ready[b]) == W.w + 1; },
                   [&] {
                     if (!claim(dhy_next.v, W.dhy_lim(), &k)) return false;
                     const size_t bb = W.nch - 1 - static_cast<size_t>(k - W.dhy_base);
                     team.wait_t0([&] { return ld(ro_ready[bb]) == W.w + 1; });
                     do_dhy(W, bb);
                     return true;
                   });
      bwd_step(m, dhy + t * Hp, hs + (t + 1) * Hp, dnext, dr + t * Hp, t > 0);
    }
    bwd_done.v.store(W.w + 1, std::memory_order_release);
    team.wait_t0([&] { return ld(ro_done.v) >= W.ro_lim(); });
    float wl = 0.0f;
    for (size_t t = 0; t < W.n; ++t) wl = wl + loss[t];
    do_small(W);
    while (claim(gw_next.v, gw_lim(W), &k)) do_grad(W, static_cast<size_t>(k - W.gw_base));
    team.wait_t0([&] { return ld(gw_done.v) >= done_lim(W); });
    const float kk = step_size();
    update_hidden(kk);
    if (claim(upd_next.v, W.w + 1, &k)) {
      update_output(kk);
      upd_done.v.store(W.w + 1, std::memory_order_release);
    }
    std::memcpy(hs, hs + W.n * Hp, Hp * sizeof(float));
    *total_loss += static_cast<double>(wl);
    *total_chars += static_cast<int64_t>(W.n);
  }

  // One window on the helper T1; false when it should exit.
  FAST bool t1_window(const Win& W) {
    int64_t k;
    for (;;) {
      if (team.quit() || !claim(ro_next.v, W.ro_lim(), &k)) break;
      const size_t c = static_cast<size_t>(k - W.ro_base);
      const int64_t need = W.fwd_base + static_cast<int64_t>(std::min(W.n, (c + 1) * kChunk));
      if (!team.wait_t1([&] { return ld(fwd_steps.v) >= need; })) return false;
      do_readout(W, c, hnt1);
    }
    for (;;) {
      if (team.quit() || !claim(dhy_next.v, W.dhy_lim(), &k)) break;
      const size_t b = W.nch - 1 - static_cast<size_t>(k - W.dhy_base);
      if (!team.wait_t1([&] { return ld(ro_ready[b]) == W.w + 1; })) return false;
      do_dhy(W, b);
    }
    if (!team.wait_t1([&] { return ld(ro_done.v) >= W.ro_lim(); })) return false;
    for (;;) {
      if (team.quit() || !claim(gw_next.v, gw_lim(W), &k)) break;
      const size_t q = static_cast<size_t>(k - W.gw_base);
      if (q >= ny && !team.wait_t1([&] { return ld(bwd_done.v) >= W.w + 1; })) return false;
      do_grad(W, q);
    }
    if (team.quit()) return false;
    if (!team.wait_t1([&] { return ld(gw_done.v) >= done_lim(W); })) return false;
    if (!team.quit() && claim(upd_next.v, W.w + 1, &k)) {
      update_output(step_size());
      upd_done.v.store(W.w + 1, std::memory_order_release);
    }
    return !team.quit();
  }

  double run(float* weights, int threads, const std::atomic<bool>* cancel) {
    model_bind(m, weights, H, ws);
    std::memset(hs, 0, Hp * sizeof(float));  // carried state: zero at epoch start
    double total_loss = 0.0;
    int64_t total_chars = 0;
    int64_t windows = 0;
    bool cancelled = false;
    const bool want = (threads >= 2 || B >= 8) && want_threads(threads, H, len);
    team.set_largest_item(static_cast<double>(Hp) * std::max<double>(kChunkFloats, kTaskRows * maxn));
    team.threaded = want && ws.worker.run([this] {
      for_each_window([this](const Win& W) { return t1_window(W); });
    });
    if (team.threaded) team.worker = &ws.worker;
    for_each_window([&](const Win& W) {
      if (cancel && cancel->load(std::memory_order_relaxed)) {
        cancelled = true;
        return false;
      }
      t0_window(W, &total_loss, &total_chars);
      ++windows;
      return true;
    });
    // The last Wy/by update may still be running on the helper.
    team.wait_t0([&] { return ld(upd_done.v) >= windows; });
    team.stop.store(true);
    if (team.threaded) ws.worker.wait();
    model_store(m, weights);
    if (cancelled) return std::numeric_limits<double>::quiet_NaN();
    const float D = static_cast<float>(total_chars) * gmath::logf(2.0f);
    return total_loss / static_cast<double>(D);
  }
};

// ---------------------------------------------------------------------------------------
// Evaluation: T0 runs the recurrence into a ring of chunks; both threads run the readout
// of finished chunks. Each chunk's loss sum (double, in order) is added to the total in
// chunk order by T0.

struct Evaluator {
  static constexpr size_t kRing = 8;  // chunks of hidden states in flight
  const uint8_t* data;
  size_t n, nch, Hp;
  const Model& m;
  float *ring, *hnt0, *hnt1, *P0, *P1;
  std::atomic<int64_t>* slot_done;
  double slot_sum[kRing];
  double total = 0.0;
  size_t added = 0;  // chunks added to total
  Counter produced, next, done;
  Team team;

  Evaluator(const Model& model, const uint8_t* d, size_t predictions, FastWorkspace::Impl& ws)
      : data(d), n(predictions), nch((predictions + kChunk - 1) / kChunk), Hp(model.Hp), m(model) {
    ring = ws.buf(ws.ring, kRing * kChunk * Hp + Hp);  // + one zero row (the initial state)
    hnt0 = ws.buf(ws.hnt0, Hp * 8);
    hnt1 = ws.buf(ws.hnt1, Hp * 8);
    P0 = ws.buf(ws.P0, kChunkFloats);
    P1 = ws.buf(ws.P1, kChunkFloats);
    slot_done = ws.slot_done.get(kRing);
    for (size_t s = 0; s < kRing; ++s) slot_done[s].store(0);
    std::memset(ring + kRing * kChunk * Hp, 0, Hp * sizeof(float));
  }

  FAST void task(size_t c, float* hnt, float* P) {
    const size_t t0 = c * kChunk;
    const int rows = static_cast<int>(std::min(kChunk, n - t0));
    const size_t slot = c % kRing;
    transpose_chunk(ring + slot * kChunk * Hp, rows, Hp, hnt);
    readout_chunk(m, hnt, P);
    double s = 0.0;
    for (int l = 0; l < rows; ++l) s += static_cast<double>(pred_loss(P[data[t0 + l + 1] * 8 + l]));
    slot_sum[slot] = s;
    slot_done[slot].store(static_cast<int64_t>(c) + 1, std::memory_order_release);
    done.v.fetch_add(1, std::memory_order_acq_rel);
  }

  bool t0_take(int64_t limit) {
    int64_t k;
    if (!claim(next.v, limit, &k)) return false;
    task(static_cast<size_t>(k), hnt0, P0);
    return true;
  }

  // Adds chunk `added` (finished) to the total.
  void add_next() {
    const size_t slot = added % kRing;
    team.wait_t0([&] { return ld(slot_done[slot]) >= static_cast<int64_t>(added) + 1; },
                 [&] { return t0_take(ld(produced.v)); });
    total += slot_sum[slot];
    ++added;
  }

  FAST double run_t0() {
    const float* hprev = ring + kRing * kChunk * Hp;
    for (size_t c = 0; c < nch; ++c) {
      const size_t slot = c % kRing;
      if (c >= kRing) add_next();  // frees the slot of chunk c - kRing
      float* rows = ring + slot * kChunk * Hp;
      const size_t cnt = std::min(kChunk, n - c * kChunk);
      for (size_t l = 0; l < cnt; ++l) {
        fwd_step(m, hprev, data[c * kChunk + l], rows + l * Hp);
        hprev = rows + l * Hp;
      }
      const int64_t made = static_cast<int64_t>(c) + 1;
      produced.v.store(made, std::memory_order_release);
      if (!team.threaded || team.solo.load(std::memory_order_relaxed)) {
        while (t0_take(made)) {
        }
      } else {
        // The readout costs about twice the recurrence: take a share when work piles up.
        while (made - ld(next.v) > 2 && t0_take(made)) {
        }
      }
    }
    while (added < nch) add_next();
    return total;
  }

  FAST void run_t1() {
    int64_t k;
    for (unsigned idle = 0;;) {
      if (team.quit() || ld(next.v) >= static_cast<int64_t>(nch)) return;
      if (claim(next.v, ld(produced.v), &k)) {
        task(static_cast<size_t>(k), hnt1, P1);
        idle = 0;
      } else if (++idle < 4096) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
  }
};

double eval_fast_impl(const float* weights, size_t H, const uint8_t* data, size_t len,
                      FastWorkspace::Impl& ws, int threads) {
  const float chars = static_cast<float>(static_cast<int64_t>(len) - 1);
  const double denom = static_cast<double>(chars * gmath::logf(2.0f));
  if (len < 2) return 0.0 / denom;
  InUse busy(ws);
  Model m;
  model_bind(m, const_cast<float*>(weights), H, ws);  // reads only
  Evaluator ev(m, data, len - 1, ws);
  ev.team.set_largest_item(static_cast<double>(m.Hp) * kChunkFloats);
  ev.team.threaded =
      want_threads(threads, H, len) && ws.worker.run([&ev] { ev.run_t1(); });
  if (ev.team.threaded) ev.team.worker = &ws.worker;
  const double total = ev.run_t0();
  ev.team.stop.store(true);
  if (ev.team.threaded) ws.worker.wait();
  return total / denom;
}

double train_fast_impl(float* weights, const uint8_t* data, size_t len, float lr,
                       const TrainParams& p, FastWorkspace::Impl& ws, int threads,
                       const std::atomic<bool>* cancel) {
  InUse busy(ws);
  Trainer tr(data, len, lr, p, ws);
  return tr.run(weights, threads, cancel);
}

}  // namespace
#endif  // SATRNN_FAST_X86

bool fast_kernels_available() {
#if SATRNN_FAST_X86
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

double train_epoch_fast_threads(float* weights, const uint8_t* data, size_t len, float lr,
                                const TrainParams& p, FastWorkspace& ws, int threads,
                                const std::atomic<bool>* cancel) {
  if (p.H == 0) throw std::invalid_argument("train_epoch: hidden size must be >= 1");
  if (p.bptt < 1) throw std::invalid_argument("train_epoch: bptt must be >= 1");
#if SATRNN_FAST_X86
  if (fast_kernels_available()) return train_fast_impl(weights, data, len, lr, p, ws.impl(), threads, cancel);
#endif
  (void)ws;
  (void)threads;
  return train_epoch(weights, data, len, lr, p, Isa::Avx2, cancel);
}

double eval_bpc_fast_threads(const float* weights, size_t H, const uint8_t* data, size_t len,
                             FastWorkspace& ws, int threads) {
  if (H == 0) throw std::invalid_argument("eval_bpc: hidden size must be >= 1");
#if SATRNN_FAST_X86
  if (fast_kernels_available()) return eval_fast_impl(weights, H, data, len, ws.impl(), threads);
#endif
  (void)ws;
  (void)threads;
  return eval_bpc(weights, H, data, len, Isa::Avx2);
}

double train_epoch_fast(float* weights, const uint8_t* data, size_t len, float lr,
                        const TrainParams& p, const std::atomic<bool>* cancel) {
  FastWorkspace ws;
  return train_epoch_fast_threads(weights, data, len, lr, p, ws, 0, cancel);
}

double train_epoch_fast(float* weights, const uint8_t* data, size_t len, float lr,
                        const TrainParams& p, FastWorkspace& ws, const std::atomic<bool>* cancel) {
  return train_epoch_fast_threads(weights, data, len, lr, p, ws, 0, cancel);
}

double eval_bpc_fast(const float* weights, size_t H, const uint8_t* data, size_t len) {
  FastWorkspace ws;
  return eval_bpc_fast_threads(weights, H, data, len, ws, 0);
}

double eval_bpc_fast(const float* weights, size_t H, const uint8_t* data, size_t len,
                     FastWorkspace& ws) {
  return eval_bpc_fast_threads(weights, H, data, len, ws, 0);
}

}  // namespace satrnn
