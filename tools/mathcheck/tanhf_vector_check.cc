// Build: g++ -O2 -ffp-contract=off -std=c++17 -pthread -o /tmp/tanhf_vector_check tools/mathcheck/tanhf_vector_check.cc
// Run:   /tmp/tanhf_vector_check               all 2^32 inputs (about 2 minutes on 2 cores)
//        /tmp/tanhf_vector_check --sample N    N inputs: every special class and branch
//                                              threshold, random bits and random values
//
// Checks native/math/tanhf_vec.h against the scalar ports of glibc_float.h: tanhf and
// expm1f on 8 lanes (AVX2, when the CPU has it) and on 4 lanes (SSE2) must give the raw
// bits of gmath::tanhf / gmath::expm1f in every lane (NaN payloads and signed zeros
// included). Exit status 0 only if nothing differs.
//
// The exhaustive run covers each input exactly once, with the lanes of one vector far
// apart in the input space (eighths of it), so every vector, and each 4-lane half of it,
// mixes signs and magnitudes and the masks have to select per lane.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../../native/math/tanhf_vec.h"

namespace gm = satrnn::gmath;

namespace {

using gm::detail::f2u;
using gm::detail::u2f;

// One vector function: its mismatch count and a few examples.
struct Check {
  const char* name;
  std::atomic<uint64_t> mismatches{0};
  std::atomic<int> shown{0};
  explicit Check(const char* n) : name(n) {}

  // Lanes [0, n) of `out` against the scalar results `want` for inputs `in`.
  uint64_t compare(const float* in, const float* out, const uint32_t* want, int n) {
    uint64_t bad = 0;
    for (int l = 0; l < n; ++l) {
      const uint32_t got = f2u(out[l]);
      if (got == want[l]) continue;
      ++bad;
      if (shown.fetch_add(1) < 8)
        std::printf("  %s: x=%08x (%a): vector %08x scalar %08x\n", name, f2u(in[l]),
                    static_cast<double>(in[l]), got, want[l]);
    }
    return bad;
  }
};

struct Checks {
  bool avx2;
  Check tanhf8{"tanhf8_avx2"}, expm1f8{"expm1f8_avx2"}, tanhf4{"tanhf4_sse2"}, expm1f4{"expm1f4_sse2"};
  std::atomic<uint64_t> inputs{0};
};

__attribute__((target("avx2"))) void avx2_lanes(const float* in, float* tanh_out, float* expm1_out) {
  const __m256 x = _mm256_load_ps(in);
  _mm256_store_ps(tanh_out, gm::tanhf8_avx2(x));
  _mm256_store_ps(expm1_out, gm::expm1f8_avx2(x));
}

// Checks a block of 8 x kBlock inputs, x[l][j] being lane l of vector j. The scalar ports
// run along j first (neighbouring inputs, so their branches predict well: they dominate
// the run time), then each vector j is checked on 8 lanes and as two 4-lane halves.
constexpr int kBlock = 1024;
struct Block {
  alignas(32) float x[8][kBlock];
  uint32_t tanh_ref[8][kBlock], expm1_ref[8][kBlock];
};

void check_block(Checks* c, Block* b) {
  for (int l = 0; l < 8; ++l)
    for (int j = 0; j < kBlock; ++j) {
      b->tanh_ref[l][j] = f2u(gm::tanhf(b->x[l][j]));
      b->expm1_ref[l][j] = f2u(gm::expm1f(b->x[l][j]));
    }
  uint64_t bad_t8 = 0, bad_e8 = 0, bad_t4 = 0, bad_e4 = 0;
  alignas(32) float in[8], t[8], e[8];
  uint32_t want_t[8], want_e[8];
  for (int j = 0; j < kBlock; ++j) {
    for (int l = 0; l < 8; ++l) {
      in[l] = b->x[l][j];
      want_t[l] = b->tanh_ref[l][j];
      want_e[l] = b->expm1_ref[l][j];
    }
    if (c->avx2) {
      avx2_lanes(in, t, e);
      bad_t8 += c->tanhf8.compare(in, t, want_t, 8);
      bad_e8 += c->expm1f8.compare(in, e, want_e, 8);
    }
    for (int h = 0; h < 8; h += 4) {
      const __m128 x = _mm_load_ps(in + h);
      _mm_store_ps(t + h, gm::tanhf4_sse2(x));
      _mm_store_ps(e + h, gm::expm1f4_sse2(x));
      bad_t4 += c->tanhf4.compare(in + h, t + h, want_t + h, 4);
      bad_e4 += c->expm1f4.compare(in + h, e + h, want_e + h, 4);
    }
  }
  c->tanhf8.mismatches += bad_t8;
  c->expm1f8.mismatches += bad_e8;
  c->tanhf4.mismatches += bad_t4;
  c->expm1f4.mismatches += bad_e4;
  c->inputs += 8 * kBlock;
}

// All 2^32 inputs: vector i (i < 2^29) holds i + m * 2^29 in lane l, with m = 0 4 1 5 2 6 3 7
// for l = 0 .. 7 (so both 4-lane halves get positive and negative inputs). Blocks [lo, hi).
void exhaustive_range(Checks* c, uint64_t lo, uint64_t hi) {
  std::unique_ptr<Block> b(new Block);
  for (uint64_t blk = lo; blk < hi; ++blk) {
    for (int l = 0; l < 8; ++l)
      for (int j = 0; j < kBlock; ++j)
        b->x[l][j] = u2f(static_cast<uint32_t>(blk * kBlock + j + (static_cast<uint64_t>((l >> 1) | (l & 1) << 2) << 29)));
    check_block(c, b.get());
  }
}

// xorshift64*: deterministic, so a failure is reproducible.
struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint32_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return static_cast<uint32_t>((s * 0x2545f4914f6cdd1dull) >> 32);
  }
  float uniform(float a, float b) { return a + (b - a) * static_cast<float>(next() >> 8) * 0x1p-24f; }
};

// Sampled inputs: both signs of every special class, windows of bit patterns around each
// branch threshold of tanhf and expm1f (and the k boundaries of expm1f's reduction), then
// random bit patterns and random values; shuffled so the classes mix within vectors.
std::vector<float> sample_inputs(size_t n) {
  std::vector<uint32_t> u;
  const uint32_t specials[] = {
      0x00000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x7f7fffffu, 0x7f800000u,  // 0, subnormals, max, Inf
      0x7f800001u, 0x7fbfffffu, 0x7fc00000u, 0x7fc00001u, 0x7fffffffu,               // sNaN, qNaN payloads
      0x3f800000u, 0x41b00000u, 0x24000000u, 0x41102cb4u,                            // tanhf thresholds
      0x33000000u, 0x3eb17218u, 0x3f851592u, 0x4195b844u, 0x42b17218u, 0x42b17180u,  // expm1f thresholds
  };
  for (uint32_t s : specials)
    for (int d = -64; d <= 64; ++d)
      for (uint32_t sign : {0u, 0x80000000u}) u.push_back((s + static_cast<uint32_t>(d)) ^ sign);
  // Where expm1f's k = trunc(x/ln2 +- 0.5) steps (k = +-2 .. +-60), for expm1f and for tanhf (x/2).
  for (int k = 2; k <= 60; ++k) {
    const float edge = (static_cast<float>(k) - 0.5f) * 0.69314718f;
    for (float e : {edge, 0.5f * edge})
      for (int d = -32; d <= 32; ++d)
        for (uint32_t sign : {0u, 0x80000000u}) u.push_back((f2u(e) + static_cast<uint32_t>(d)) ^ sign);
  }
  Rng r;
  std::vector<float> x;
  for (uint32_t b : u) x.push_back(u2f(b));
  while (x.size() < n) {
    switch (x.size() % 4) {
      case 0: x.push_back(u2f(r.next())); break;  // any pattern
      case 1: x.push_back(r.uniform(-30.0f, 30.0f)); break;
      case 2: x.push_back(r.uniform(-1.0f, 1.0f) * std::ldexp(1.0f, static_cast<int>(r.next() % 70) - 60)); break;
      default: x.push_back(r.uniform(-100.0f, 100.0f)); break;
    }
  }
  for (size_t i = x.size() - 1; i > 0; --i) std::swap(x[i], x[r.next() % (i + 1)]);
  while (x.size() % (8 * kBlock)) x.push_back(u2f(r.next()));
  return x;
}

// The sampled inputs (a multiple of 8 x kBlock) in order, 8 consecutive ones per vector.
void run_sample(Checks* c, const std::vector<float>& x) {
  std::unique_ptr<Block> b(new Block);
  for (size_t base = 0; base < x.size(); base += 8 * kBlock) {
    for (int j = 0; j < kBlock; ++j)
      for (int l = 0; l < 8; ++l) b->x[l][j] = x[base + 8 * j + l];
    check_block(c, b.get());
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t sample = 0;
  if (argc == 3 && std::strcmp(argv[1], "--sample") == 0) {
    sample = std::strtoull(argv[2], nullptr, 10);
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: %s [--sample N]\n", argv[0]);
    return 2;
  }
  Checks c;
  c.avx2 = __builtin_cpu_supports("avx2");
  if (!c.avx2) std::printf("AVX2: not supported by this CPU, the 8-lane versions are not checked\n");

  if (sample) {
    run_sample(&c, sample_inputs(sample));
  } else {
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    const uint64_t blocks = (1ull << 29) / kBlock;
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back(exhaustive_range, &c, blocks * t / threads, blocks * (t + 1) / threads);
    for (auto& th : pool) th.join();
  }
  bool ok = c.inputs != 0;
  for (Check* f : {&c.tanhf8, &c.expm1f8, &c.tanhf4, &c.expm1f4}) {
    if (!c.avx2 && (f == &c.tanhf8 || f == &c.expm1f8)) continue;
    std::printf("%-13s %" PRIu64 " inputs, %" PRIu64 " differ from the scalar port\n", f->name,
                c.inputs.load(), f->mismatches.load());
    if (f->mismatches != 0) ok = false;
  }
  std::printf(ok ? "ALL OK: vector lanes identical to the scalar ports\n" : "FAILED\n");
  return ok ? 0 : 1;
}
