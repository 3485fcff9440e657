// Build: g++ -std=c++17 -O2 -ffp-contract=off -pthread -I native tools/mathcheck/double_check.cc native/core/cpu.cc -o /tmp/double_check -lquadmath -lm
// Run:   /tmp/double_check [--n=100000000] [--seed=1] [--threads=N] [--fma]
//
// Checks native/math/glibc_double.h (ports of glibc 2.36 exp, log2, log,
// non-fma build), native/math/exp_avx2.h and native/math/exp_avx512.h:
//   1. table self-checks (exp table re-derived with __float128, log/log2
//      tables checked against their defining relations);
//   2. the sample pairs of spec 00-common.md section 7b;
//   3. port vs. this machine's libm on >= n inputs per function and input
//      class, bit for bit (NaN payloads included);
//   4. exp4_avx2 / exp_array_avx2 vs. the scalar port on the same inputs, and the
//      softmax exps (no range checks: exp_nonpos_array_avx2, and exp_nonpos_array_avx512
//      when the CPU has AVX-512) on every input in (-512, 0];
//   5. timing of scalar exp, AVX2 exp, AVX-512 softmax exp and libm exp.
// The program re-executes itself with GLIBC_TUNABLES=glibc.cpu.hwcaps=
// -AVX2,-FMA,-AVX512F so libm uses its plain (non-fma) variants, which are the
// target.  With --fma it keeps the default (fma) libm variants instead, to
// count how often those differ from the plain algorithm.  Exit status 0 iff
// everything matched (with --fma only the self-checks decide).
#include <math.h>
#include <quadmath.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cfloat>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/cpu.h"
#include "math/exp_avx2.h"
#include "math/exp_avx512.h"
#include "math/glibc_double.h"

namespace gm = satrnn::gmath;
namespace gd = satrnn::gmath::data;

namespace {

const char* const kTunable = "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F";

std::uint64_t bits(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, 8);
  return u;
}
double dbl(std::uint64_t u) {
  double x;
  std::memcpy(&x, &u, 8);
  return x;
}

struct Rng {  // splitmix64: small, fast, good enough for test inputs
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1p-53; }  // [0, 1)
  double uniform(double a, double b) { return a + (b - a) * unit(); }
  // |x| log-uniform in [2^lo, 2^hi): random exponent, random mantissa bits
  double loguni(int lo, int hi) {
    int e = lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo));
    return ldexp(1.0 + static_cast<double>(next() >> 12) * 0x1p-52, e);
  }
};

// ---------------------------------------------------------------- self-checks
__float128 ln2q() { return logq(static_cast<__float128>(2)); }
int g_fail = 0;
#define CHECK(cond, ...)            \
  do {                              \
    if (!(cond)) {                  \
      ++g_fail;                     \
      std::printf("FAIL: " __VA_ARGS__); \
      std::printf("\n");            \
    }                               \
  } while (0)

void check_tables() {
  // exp: H[j] = RN(2^(j/128)), tail[j] = RN((2^(j/128) - H)/H), except three
  // entries where glibc's table is 1 ulp off the correctly rounded tail.
  int tail_off = 0;
  for (int j = 0; j < 128; ++j) {
    __float128 t = exp2q(static_cast<__float128>(j) / 128);
    double h = static_cast<double>(t);
    std::uint64_t want_sb = bits(h) - (static_cast<std::uint64_t>(j) << 45);
    CHECK(gd::kExpScaleBits[j] == want_sb, "exp H[%d]", j);
    double tail = static_cast<double>((t - h) / h);
    std::int64_t d = static_cast<std::int64_t>(bits(gd::kExpTail[j]) - bits(tail));
    if (d != 0) {
      ++tail_off;
      CHECK((j == 2 || j == 29 || j == 44) && (d == 1 || d == -1), "exp tail[%d] off by %" PRId64, j, d);
    }
  }
  CHECK(tail_off == 3, "exp: %d tails differ from correctly rounded (expected 3)", tail_off);
  CHECK(gd::kExpInvLn2N == static_cast<double>(128 / ln2q()), "InvLn2N");
  CHECK(fabsq(-static_cast<__float128>(gd::kExpNegLn2HiN) - gd::kExpNegLn2LoN - ln2q() / 128) < static_cast<__float128>(0x1p-100),
        "ln2/N split");
  CHECK((bits(gd::kExpNegLn2HiN) & 0xffff) == 0, "NegLn2hiN trailing zeros (kd*hi exact)");
  // log / log2 tables: c = 1/invc exactly, chi = RN(c), clo = RN(c - chi),
  // logc within 2^-66 (log) / 2^-68 relative scale (log2) of the true value and a
  // multiple of ulp(0x1.8p9) / ulp(0x1.8p10), c near the middle of subinterval i.
  auto check_log = [](const char* name, const gd::LogEntry* tab, const gd::LogSplit* tab2, int n,
                      bool is_log2, double logc_ulp, __float128 logc_tol) {
    for (int i = 0; i < n; ++i) {
      __float128 c = 1 / static_cast<__float128>(tab[i].invc);
      double chi = static_cast<double>(c);
      double clo = static_cast<double>(c - chi);
      CHECK(chi == tab2[i].chi && clo == tab2[i].clo, "%s tab2[%d] (chi,clo) vs 1/invc", name, i);
      __float128 lc = is_log2 ? log2q(c) : logq(c);
      CHECK(fabsq(lc - tab[i].logc) < logc_tol, "%s logc[%d] error", name, i);
      double q = tab[i].logc / logc_ulp;
      CHECK(q == static_cast<double>(static_cast<std::int64_t>(q)), "%s logc[%d] not a multiple", name, i);
      // subinterval i of [0x1.6p-1, 0x1.6p0) in the bit domain
      std::uint64_t lo = 0x3fe6000000000000ULL + (static_cast<std::uint64_t>(i) << (52 - (n == 64 ? 6 : 7)));
      std::uint64_t width = std::uint64_t{1} << (52 - (n == 64 ? 6 : 7));
      // bit patterns of positive doubles are monotonic, also across z = 1
      CHECK(chi > dbl(lo) && chi < dbl(lo + width), "%s c[%d] outside its subinterval", name, i);
    }
  };
  check_log("log2", gd::kLog2Tab, gd::kLog2Tab2, 64, true, 0x1p-42, static_cast<__float128>(0x1p-66));
  check_log("log", gd::kLogTab, gd::kLogTab2, 128, false, 0x1p-43, static_cast<__float128>(0x1p-66));
  CHECK(fabsq(gd::kLog2InvLn2Hi + static_cast<__float128>(gd::kLog2InvLn2Lo) - 1 / ln2q()) < static_cast<__float128>(0x1p-75),
        "1/ln2 split");
  CHECK((bits(gd::kLog2InvLn2Hi) & 0x1fffffULL) == 0, "InvLn2hi has <= 32 bits (21-bit rhi times it is exact)");
  CHECK(fabsq(gd::kLogLn2Hi + static_cast<__float128>(gd::kLogLn2Lo) - ln2q()) < static_cast<__float128>(0x1p-95), "ln2 split");
  CHECK(gd::kLogB[0] == -0.5, "log B[0]");
}

__attribute__((target("avx2"))) void exp4_bits(double x, double out[4]) {
  _mm256_storeu_pd(out, gm::exp4_avx2(_mm256_set1_pd(x)));
}

void check_samples() {
  struct Pair {
    std::uint64_t x, e, l2;
  };
  // spec 00-common.md 7b: x, exp(x), log2(|x|)
  const Pair pairs[] = {
      {bits(-0x1p-1), 0x3fe368b2fc6f960aULL, 0xbff0000000000000ULL},
      {bits(-0x1.d99999999999ap+1), 0x3f99511fc6871044ULL, 0x3ffe334db2c356b0ULL},
      {bits(-0x1.14p+4), 0x3e614f49dbc5078cULL, 0x40106f210902b6afULL},
      {bits(-0x1.68p+5), 0x3be0e5b73d1ff53dULL, 0x4015f7a8568cb06dULL},
      {bits(0x1.3333333333333p-2), 0x3ff599058c8c1a96ULL, 0xbffbca9c6f53897bULL},
      {bits(0x1.4f8b588e368f1p-17), 0x3ff0000a7c5e340eULL, 0xc0309c1165ec0627ULL},
  };
  int bad = 0;
  for (const Pair& p : pairs) {
    double x = dbl(p.x);
    if (bits(gm::exp(x)) != p.e) ++bad, std::printf("sample exp(%a) = %a, want %a\n", x, gm::exp(x), dbl(p.e));
    if (bits(gm::log2(fabs(x))) != p.l2)
      ++bad, std::printf("sample log2(%a) = %a, want %a\n", fabs(x), gm::log2(fabs(x)), dbl(p.l2));
    double v = x;
    double a;
    gm::exp_array_avx2(&v, &a, 1);
    double o[4];
    exp4_bits(x, o);
    if (bits(a) != p.e) ++bad, std::printf("sample exp_array_avx2(%a) = %a\n", x, a);
    for (double y : o)
      if (bits(y) != p.e) ++bad, std::printf("sample exp4_avx2(%a) = %a\n", x, y);
  }
  g_fail += bad;
  std::printf("7b sample pairs: %d mismatches (6 exp, 6 log2, 30 avx2 results)\n", bad);
}

// ------------------------------------------------------------ comparisons
enum Fn { kExp, kLog2, kLog };
const char* fn_name(Fn f) { return f == kExp ? "exp" : f == kLog2 ? "log2" : "log"; }

struct Category {
  Fn fn;
  const char* name;
  double count_scale;  // fraction of --n to run
  void (*gen)(Rng&, double*, std::size_t);
};

void gen_bits(Rng& r, double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = dbl(r.next());
}
void gen_m50_0(Rng& r, double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = r.uniform(-50, 0);
}
void gen_m750_710(Rng& r, double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = r.uniform(-750, 710);
}
void gen_exp_edges(Rng& r, double* x, std::size_t n) {  // specialcase branch, subnormal and overflow edges
  for (std::size_t i = 0; i < n; ++i) {
    switch (r.next() % 4) {
      case 0: x[i] = r.uniform(-746, -700); break;
      case 1: x[i] = r.uniform(700, 710); break;
      case 2: x[i] = (r.next() & 1 ? 1 : -1) * r.uniform(512, 1024); break;
      default: x[i] = r.uniform(-745.2, -708); break;
    }
  }
}
void gen_exp_logmag(Rng& r, double* x, std::size_t n) {  // |x| in [2^-60, 2^11), random sign
  for (std::size_t i = 0; i < n; ++i) x[i] = (r.next() & 1 ? 1 : -1) * r.loguni(-60, 11);
}
void gen_softmax(Rng& r, double* x, std::size_t n) {  // the softmax exps' range (-512, 0]
  for (std::size_t i = 0; i < n; ++i) {
    switch (r.next() % 4) {
      case 0: x[i] = -r.uniform(0, 512) * (1 - 0x1p-52); break;
      case 1: x[i] = -r.loguni(-1074, 9); break;  // every magnitude, tiny ones included
      case 2: {  // within a few ulps of k*ln2/128, where the table index turns over
        const double b = -static_cast<double>(r.next() % 65536) * M_LN2 / 128;
        x[i] = dbl(bits(b) + (r.next() % 17) - 8);
        if (!(x[i] > -512.0 && x[i] <= 0.0)) x[i] = -0.0;
        break;
      }
      default: x[i] = -r.uniform(0, 40); break;  // the bulk of real softmaxes
    }
  }
}
void gen_tiny_to_1(Rng& r, double* x, std::size_t n) {  // log-uniform in (1e-30, 1]
  const double l0 = ::log(1e-30);
  for (std::size_t i = 0; i < n; ++i) {
    double v = ::exp(l0 * r.unit());  // (1e-30, 1]; the exact law does not matter
    x[i] = v > 1e-30 ? v : 1.0;
  }
}
void gen_positive(Rng& r, double* x, std::size_t n) {  // all finite positive doubles, log-uniform
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t u;
    do u = r.next() >> 1;
    while (u >= 0x7ff0000000000000ULL || u == 0);
    x[i] = dbl(u);
  }
}
void gen_near1(Rng& r, double* x, std::size_t n) {  // near-1 polynomial paths and their borders
  for (std::size_t i = 0; i < n; ++i) {
    if (r.next() & 1)
      x[i] = r.uniform(0.9, 1.1);
    else  // within a few thousand ulps of 1
      x[i] = dbl(0x3ff0000000000000ULL + (r.next() % 8192) - 4096);
  }
}
void gen_subnormal(Rng& r, double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t m = r.next() & 0x000fffffffffffffULL;
    if (r.next() % 4 == 0) m >>= (r.next() % 52);  // also small subnormals
    x[i] = dbl(m ? m : 1);
  }
}

const Category kCategories[] = {
    {kExp, "random bit patterns", 1.0, gen_bits},
    {kExp, "uniform [-50, 0]", 1.0, gen_m50_0},
    {kExp, "uniform [-750, 710]", 1.0, gen_m750_710},
    {kExp, "|x| log-uniform [2^-60, 2^11)", 1.0, gen_exp_logmag},
    {kExp, "edges: [512,1024), subnormal/overflow results", 0.2, gen_exp_edges},
    {kExp, "softmax range (-512, 0]", 1.0, gen_softmax},
    {kLog2, "random bit patterns", 1.0, gen_bits},
    {kLog2, "log-uniform (1e-30, 1]", 1.0, gen_tiny_to_1},
    {kLog2, "all positive finite (log-uniform)", 1.0, gen_positive},
    {kLog2, "near 1", 1.0, gen_near1},
    {kLog2, "subnormals", 0.2, gen_subnormal},
    {kLog, "random bit patterns", 1.0, gen_bits},
    {kLog, "log-uniform (1e-30, 1]", 1.0, gen_tiny_to_1},
    {kLog, "all positive finite (log-uniform)", 1.0, gen_positive},
    {kLog, "near 1", 1.0, gen_near1},
    {kLog, "subnormals", 0.2, gen_subnormal},
};

std::vector<double> special_inputs() {
  std::vector<double> v = {0.0, -0.0, HUGE_VAL, -HUGE_VAL, dbl(0x7ff8000000000000ULL),
                           dbl(0xfff8000000000000ULL), dbl(0x7ff0000000000001ULL),  // sNaN
                           dbl(0xfff4000000000123ULL), dbl(0x7ffc0000deadbeefULL), dbl(1), -dbl(1),
                           DBL_MIN, -DBL_MIN, DBL_MAX, -DBL_MAX, 1.0, -1.0, 0.5, 2.0, 709.782712893384,
                           709.7827128933841, -745.1332191019411, -745.1332191019412, -708.3964185322641,
                           -708.4, 512.0, -512.0, 1024.0, -1024.0, 0x1p-54, -0x1p-54, 0x1p-1022 * 0.5};
  // neighbours of the branch thresholds
  const double edges[] = {0x1p-54, 512.0, 1024.0, 1 - 0x1.5b51p-5, 1 + 0x1.6ab2p-5, 1 - 0x1p-4, 1 + 0x1.09p-4,
                          1.0, 0x1p-1022, 0x1p-1074, 0x1.6p-1, 0x1.6p0, DBL_MAX};
  for (double e : edges)
    for (int d = -3; d <= 3; ++d) {
      v.push_back(dbl(bits(e) + d));
      v.push_back(-dbl(bits(e) + d));
    }
  for (int e = -1074; e <= 1023; ++e) v.push_back(ldexp(1.0, e)), v.push_back(-ldexp(1.0, e));
  for (int k = -2000; k <= 2000; ++k) v.push_back(k * 0.5), v.push_back(k * M_LN2 / 128);
  return v;
}

double port(Fn f, double x) { return f == kExp ? gm::exp(x) : f == kLog2 ? gm::log2(x) : gm::log(x); }
double sys(Fn f, double x) { return f == kExp ? ::exp(x) : f == kLog2 ? ::log2(x) : ::log(x); }

struct Counts {
  std::uint64_t n = 0, bad = 0, avx_bad = 0;
  std::uint64_t softmax_n = 0, softmax_bad = 0;  // softmax exps on the inputs in (-512, 0]
};
bool g_avx512 = false;
std::mutex g_print_mu;

// Compare port vs libm (and for exp: avx2 vs port) on one block.
void compare_block(Fn f, const double* x, std::size_t n, double* a, double* b, Counts& c, int& shown) {
  for (std::size_t i = 0; i < n; ++i) a[i] = port(f, x[i]);
  for (std::size_t i = 0; i < n; ++i) b[i] = sys(f, x[i]);
  for (std::size_t i = 0; i < n; ++i)
    if (bits(a[i]) != bits(b[i])) {
      ++c.bad;
      if (shown < 5) {
        std::lock_guard<std::mutex> lk(g_print_mu);
        std::printf("  MISMATCH %s(%a) [%016" PRIx64 "]: port %a [%016" PRIx64 "] libm %a [%016" PRIx64 "]\n",
                    fn_name(f), x[i], bits(x[i]), a[i], bits(a[i]), b[i], bits(b[i]));
        ++shown;
      }
    }
  if (f == kExp) {
    gm::exp_array_avx2(x, b, n);
    for (std::size_t i = 0; i < n; ++i)
      if (bits(a[i]) != bits(b[i])) {
        ++c.avx_bad;
        if (shown < 5) {
          std::lock_guard<std::mutex> lk(g_print_mu);
          std::printf("  AVX2 MISMATCH exp(%a): scalar %a avx2 %a\n", x[i], a[i], b[i]);
          ++shown;
        }
      }
    // The softmax exps on this block's arguments in (-512, 0], packed together (the scalar
    // results in `want`), each vector function on all of them.
    std::vector<double> in, want, got;
    for (std::size_t i = 0; i < n; ++i)
      if (x[i] > -512.0 && x[i] <= 0.0) in.push_back(x[i]), want.push_back(a[i]);
    got.resize(in.size());
    auto check = [&](const char* name) {
      for (std::size_t i = 0; i < in.size(); ++i)
        if (bits(got[i]) != bits(want[i])) {
          ++c.softmax_bad;
          if (shown < 5) {
            std::lock_guard<std::mutex> lk(g_print_mu);
            std::printf("  %s MISMATCH exp(%a): scalar %a vector %a\n", name, in[i], want[i], got[i]);
            ++shown;
          }
        }
      c.softmax_n += in.size();
    };
    gm::exp_nonpos_array_avx2(in.data(), got.data(), in.size());
    check("exp_nonpos_array_avx2");
#if SATRNN_HAVE_EXP_AVX512
    if (g_avx512) {
      gm::exp_nonpos_array_avx512(in.data(), got.data(), in.size());
      check("exp_nonpos_array_avx512");
    }
#endif
  }
  c.n += n;
}

Counts run_category(int ci, std::uint64_t total, std::uint64_t seed, int threads) {
  const Category& cat = kCategories[ci];
  const std::size_t kBlock = 4096;
  const std::uint64_t nblocks = (total + kBlock - 1) / kBlock;
  std::atomic<std::uint64_t> next{0};
  std::vector<Counts> per(threads);
  std::vector<std::thread> pool;
  int shown = 0;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::vector<double> x(kBlock), a(kBlock), b(kBlock);
      for (;;) {
        std::uint64_t blk = next.fetch_add(1);
        if (blk >= nblocks) break;
        Rng r(seed * 0x100000001b3ULL ^ (static_cast<std::uint64_t>(ci) << 48) ^ blk);
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, total - blk * kBlock));
        cat.gen(r, x.data(), n);
        compare_block(cat.fn, x.data(), n, a.data(), b.data(), per[t], shown);
      }
    });
  for (auto& th : pool) th.join();
  Counts sum;
  for (auto& c : per)
    sum.n += c.n, sum.bad += c.bad, sum.avx_bad += c.avx_bad, sum.softmax_n += c.softmax_n, sum.softmax_bad += c.softmax_bad;
  return sum;
}

template <class F>
double time_ns(F&& f, const std::vector<double>& x, std::vector<double>& y, int reps) {
  double best = 1e30;
  for (int rep = 0; rep < reps; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    f(x.data(), y.data(), x.size());
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / x.size());
  }
  return best;
}

void benchmark() {
  Rng r(7);
  std::vector<double> x(1 << 20), y(x.size());
  for (double& v : x) v = r.uniform(-50, 0);
  double sink = 0;
  auto scalar = [&](const double* in, double* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = gm::exp(in[i]);
  };
  auto avx = [&](const double* in, double* out, std::size_t n) { gm::exp_array_avx2(in, out, n); };
  auto softmax2 = [&](const double* in, double* out, std::size_t n) { gm::exp_nonpos_array_avx2(in, out, n); };
#if SATRNN_HAVE_EXP_AVX512
  auto softmax512 = [&](const double* in, double* out, std::size_t n) { gm::exp_nonpos_array_avx512(in, out, n); };
#endif
  auto libm = [&](const double* in, double* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = ::exp(in[i]);
  };
  auto scalar_log2 = [&](const double* in, double* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = gm::log2(-in[i]);
  };
  auto libm_log2 = [&](const double* in, double* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = ::log2(-in[i]);
  };
  double ts = time_ns(scalar, x, y, 5);
  sink += y[123];
  double ta = time_ns(avx, x, y, 5);
  sink += y[456];
  double tl = time_ns(libm, x, y, 5);
  sink += y[789];
  double t2 = time_ns(scalar_log2, x, y, 5);
  double t2l = time_ns(libm_log2, x, y, 5);
  sink += y[1];
  const double ts2 = time_ns(softmax2, x, y, 5);
  double ts5 = 0;
#if SATRNN_HAVE_EXP_AVX512
  if (g_avx512) ts5 = time_ns(softmax512, x, y, 5);
#endif
  sink += y[2];
  std::printf("timing (args in [-50,0], 2^20 array, best of 5): exp scalar port %.2f ns, exp AVX2 %.2f ns, "
              "softmax exp AVX2 %.2f ns, AVX-512 %.2f ns (0: no AVX-512), libm exp %.2f ns; log2 port %.2f ns, "
              "libm log2 %.2f ns  [%g]\n",
              ts, ta, ts2, ts5, tl, t2, t2l, sink * 0);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 100000000, seed = 1;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  bool fma = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--n=", 0) == 0) n = std::strtoull(a.c_str() + 4, nullptr, 10);
    else if (a.rfind("--seed=", 0) == 0) seed = std::strtoull(a.c_str() + 7, nullptr, 10);
    else if (a.rfind("--threads=", 0) == 0) threads = std::atoi(a.c_str() + 10);
    else if (a == "--fma") fma = true;
    else {
      std::fprintf(stderr, "usage: %s [--n=N] [--seed=S] [--threads=T] [--fma]\n", argv[0]);
      return 2;
    }
  }
  if (threads < 1) threads = 1;
  const char* tun = std::getenv("GLIBC_TUNABLES");
  bool have_tunable = tun && std::strstr(tun, "-FMA") && std::strstr(tun, "-AVX2");
  if (!fma && !have_tunable) {
    // libm's variant is chosen at load time, so the tunable needs a fresh exec.
    setenv("GLIBC_TUNABLES", kTunable, 1);
    execv("/proc/self/exe", argv);
    std::perror("re-exec with GLIBC_TUNABLES failed");
    return 2;
  }
  if (fma && have_tunable) unsetenv("GLIBC_TUNABLES");  // informational only; already loaded
  std::printf("libm variant: %s (GLIBC_TUNABLES=%s); AVX2 on this CPU: %s\n",
              fma ? "default (fma where available)" : "plain (non-fma)", tun ? tun : "",
              satrnn::cpu_has_avx2() ? "yes" : "no");
  if (!satrnn::cpu_has_avx2()) {
    std::printf("this program needs an AVX2 CPU for the vector checks\n");
    return 2;
  }
  g_avx512 = satrnn::cpu_has_avx512();
  std::printf("AVX-512 on this CPU and OS: %s (the AVX-512 softmax exp is %s)\n", g_avx512 ? "yes" : "no",
              g_avx512 ? "checked" : "NOT checked");

  check_tables();
  std::printf("table self-checks: %s\n", g_fail ? "FAILED" : "ok");
  check_samples();
  const int self_fail = g_fail;

  // specials, exhaustively listed
  std::uint64_t total_bad = 0, total_avx_bad = 0, total_softmax_bad = 0;
  {
    std::vector<double> sp = special_inputs();
    std::vector<double> a(sp.size()), b(sp.size());
    for (Fn f : {kExp, kLog2, kLog}) {
      Counts c;
      int shown = 0;
      compare_block(f, sp.data(), sp.size(), a.data(), b.data(), c, shown);
      std::printf("%-5s %-46s %12" PRIu64 " inputs: %" PRIu64 " mismatches", fn_name(f), "specials + thresholds",
                  c.n, c.bad);
      if (f == kExp)
        std::printf(", avx2 vs scalar %" PRIu64 ", softmax exps vs scalar %" PRIu64 " of %" PRIu64, c.avx_bad, c.softmax_bad,
                    c.softmax_n);
      std::printf("\n");
      total_bad += c.bad;
      total_avx_bad += c.avx_bad;
      total_softmax_bad += c.softmax_bad;
    }
  }
  for (int ci = 0; ci < static_cast<int>(sizeof kCategories / sizeof kCategories[0]); ++ci) {
    const Category& cat = kCategories[ci];
    auto t0 = std::chrono::steady_clock::now();
    std::uint64_t cnt = static_cast<std::uint64_t>(static_cast<double>(n) * cat.count_scale);
    Counts c = run_category(ci, cnt, seed, threads);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-5s %-46s %12" PRIu64 " inputs: %" PRIu64 " mismatches", fn_name(cat.fn), cat.name, c.n, c.bad);
    if (cat.fn == kExp)
      std::printf(", avx2 vs scalar %" PRIu64 ", softmax exps vs scalar %" PRIu64 " of %" PRIu64, c.avx_bad, c.softmax_bad,
                  c.softmax_n);
    std::printf("  (%.1f s)\n", sec);
    std::fflush(stdout);
    total_bad += c.bad;
    total_avx_bad += c.avx_bad;
    total_softmax_bad += c.softmax_bad;
  }
  benchmark();
  std::printf("TOTAL: port vs libm %" PRIu64 " mismatches, avx2 vs scalar %" PRIu64
              " mismatches, softmax exps (avx2%s) vs scalar %" PRIu64 " mismatches, self-check failures %d\n",
              total_bad, total_avx_bad, g_avx512 ? ", avx512" : "", total_softmax_bad, self_fail);
  if (fma) return self_fail || total_avx_bad || total_softmax_bad ? 1 : 0;
  return (self_fail || total_bad || total_avx_bad || total_softmax_bad) ? 1 : 0;
}
