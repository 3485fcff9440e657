// Build: g++ -O2 -ffp-contract=off -std=c++17 -pthread -o /tmp/float_check tools/mathcheck/float_check.cc
// Run:   /tmp/float_check            (all functions)   or   /tmp/float_check tanhf cosf
//        GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA /tmp/float_check   (libm's non-FMA build;
//        expf/cosf are then compared with the _plain ports)   ~2.5 min on 2 cores.
//
// Exhaustive validation of native/math/glibc_float.h: every one of the 2^32
// float inputs is run through the port and through the system libm (which must
// be glibc 2.36 for the comparison to mean anything), and the spec §7b
// checksum of the port is computed. Exit status 0 only if there are no
// mismatches and each checksum equals the value recorded below (measured on
// the glibc 2.36 dev machine, where the port matched libm on every input).
//
// Note: the checksums listed in spec §7b could not be reproduced with the rule
// stated there, although the port equals this machine's libm bit for bit; they
// are printed for reference only.
#include <math.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../../native/math/glibc_float.h"

namespace gm = satrnn::gmath;

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// NaN canonicalisation used by the checksum: payload dropped, sign kept.
uint32_t canon(uint32_t v) {
  return ((v & 0x7fffffffu) > 0x7f800000u) ? (0x7fc00000u | (v & 0x80000000u)) : v;
}

// Wrappers so the system functions are real calls (no builtin folding games).
float sys_tanhf(float x) { return ::tanhf(x); }
float sys_expm1f(float x) { return ::expm1f(x); }
float sys_expf(float x) { return ::expf(x); }
float sys_logf(float x) { return ::logf(x); }
float sys_cosf(float x) { return ::cosf(x); }

struct Func {
  const char* name;
  float (*port)(float);
  float (*sys)(float);
  const char* recorded;  // port checksum measured on the glibc 2.36 machine
  const char* spec;      // checksum listed in spec 7b, or nullptr
};

struct Result {
  uint64_t mismatches = 0;      // differ after NaN canonicalisation
  uint64_t nan_payload = 0;     // differ only in NaN payload bits
  std::vector<uint32_t> first;  // a few mismatching inputs
};

template <class P, class S>
void compare_range(P port, S sys, uint64_t lo, uint64_t hi, Result* res) {
  for (uint64_t u = lo; u < hi; ++u) {
    const float x = from_bits(static_cast<uint32_t>(u));
    const uint32_t a = bits(port(x));
    const uint32_t b = bits(sys(x));
    if (a == b) continue;
    if (canon(a) == canon(b)) {
      ++res->nan_payload;
    } else {
      if (res->first.size() < 8) res->first.push_back(static_cast<uint32_t>(u));
      ++res->mismatches;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Which glibc build is active? Its expf differs from the plain build at
  // exactly two inputs; 0x4202422f is one of them.
  // (volatile: otherwise gcc folds the call at compile time with MPFR.)
  volatile uint32_t probe = 0x4202422fu;
  const bool sys_fma = bits(sys_expf(from_bits(probe))) == 0x56fc9f1cu;
  std::printf("system libm: %s build of expf/cosf\n", sys_fma ? "FMA" : "plain (non-FMA)");

  const Func funcs[] = {
      {"tanhf", gm::tanhf, sys_tanhf, "4bf25c9634783081", "d1dc87ab6a34c387"},
      {"expm1f", gm::expm1f, sys_expm1f, "bb2f1b4ce83e7038", nullptr},
      {"expf", sys_fma ? gm::expf : gm::expf_plain, sys_expf,
       sys_fma ? "31543cce2e7e58ac" : "54b9f78bff0fd236", "568111dd61c47fca"},
      {"logf", gm::logf, sys_logf, "e84e0d5ba40a5659", "62f4c0426ec83d17"},
      {"cosf", sys_fma ? gm::cosf : gm::cosf_plain, sys_cosf,
       sys_fma ? "b91dd2faa8d07171" : "516741de00bc5d45", "b5054f57392de497"},
  };
  bool ok = true;
  for (const Func& f : funcs) {
    if (argc > 1) {
      bool wanted = false;
      for (int i = 1; i < argc; ++i) wanted |= std::string(argv[i]) == f.name;
      if (!wanted) continue;
    }
    // Two threads over the two halves of the input space.
    Result r0, r1;
    std::thread t0(compare_range<float (*)(float), float (*)(float)>, f.port, f.sys, 0ull,
                   1ull << 31, &r0);
    std::thread t1(compare_range<float (*)(float), float (*)(float)>, f.port, f.sys,
                   1ull << 31, 1ull << 32, &r1);
    t0.join();
    t1.join();
    const uint64_t mism = r0.mismatches + r1.mismatches;
    std::printf("%-7s mismatches vs system libm over 2^32 inputs: %" PRIu64
                " (NaN-payload-only: %" PRIu64 ")\n",
                f.name, mism, r0.nan_payload + r1.nan_payload);
    std::vector<uint32_t> ex = r0.first;
    ex.insert(ex.end(), r1.first.begin(), r1.first.end());
    for (size_t i = 0; i < ex.size() && i < 8; ++i) {
      const float x = from_bits(ex[i]);
      std::printf("    x=%08x (%a): port %08x libm %08x\n", ex[i], static_cast<double>(x),
                  bits(f.port(x)), bits(f.sys(x)));
    }
    if (mism != 0) ok = false;

    const uint64_t sum = gm::checksum_all_f32(f.port);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%016" PRIx64, sum);
    const bool sum_ok = std::strcmp(hex, f.recorded) == 0;
    std::printf("%-7s port checksum %s %s", f.name, hex,
                sum_ok ? "(= recorded)" : "(RECORDED VALUE DIFFERS: ");
    if (!sum_ok) std::printf("%s)", f.recorded);
    if (f.spec) std::printf("  [spec 7b lists %s]", f.spec);
    std::printf("\n");
    if (!sum_ok) ok = false;
    std::fflush(stdout);
  }
  std::printf(ok ? "ALL OK: port identical to system libm\n" : "FAILED\n");
  return ok ? 0 : 1;
}
