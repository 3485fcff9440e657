#include "core/cpu.h"

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
}  // namespace satrnn
