#include "core/cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace satrnn {
bool cpu_has_avx2() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return false;  // AVX2 kernels are only compiled for x86-64
#endif
}
bool cpu_has_sse2() {
#if defined(__SSE2__) && !defined(SATRNN_NO_SSE2)
  return true;
#else
  return false;
#endif
}

#if SATRNN_HAVE_AVX512
namespace {
// CPUID leaf 7 and XCR0, read directly: the instructions must exist (CPUID) and the OS must
// have enabled the state they use (XGETBV), or the first ZMM instruction faults.
bool detect_avx512() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool osxsave = c & (1u << 27);
  if (!osxsave) return false;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  // XCR0 bits 1, 2 (SSE, AVX state), 5, 6, 7 (opmask, upper halves of ZMM0-15, ZMM16-31).
  constexpr unsigned kZmmState = (1u << 1) | (1u << 2) | (1u << 5) | (1u << 6) | (1u << 7);
  if ((lo & kZmmState) != kZmmState) return false;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5), f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  return avx2 && f && dq && bw && vl;
}
}  // namespace
#endif

bool cpu_has_avx512() {
#if SATRNN_HAVE_AVX512
  static const bool has = detect_avx512();
  return has && cpu_has_avx2();
#else
  return false;  // AVX-512 kernels are only compiled for x86-64 with GCC or Clang
#endif
}
}  // namespace satrnn
