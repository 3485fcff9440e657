// Reference helper for test/math-float.test.ts (compiled by the test itself).
// Usage: float_ref <inputs.f32> <outputs.f32>
// Reads raw native-endian float32 inputs and writes 12 blocks of results:
// system libm tanhf, expm1f, expf, logf, cosf, then the C++ port
// (native/math/glibc_float.h) tanhf, expm1f, expf, logf, cosf, expf_plain,
// cosf_plain. Prints one JSON line describing the libm on stdout.
#include <math.h>

#include <cstdio>
#include <cstdint>
#include <cstring>
#include <vector>
#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

#include "../../native/math/glibc_float.h"

namespace gm = satrnn::gmath;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: float_ref <in> <out>\n");
    return 2;
  }
  std::FILE* in = std::fopen(argv[1], "rb");
  if (!in) return 3;
  std::vector<float> x;
  float buf[4096];
  size_t got;
  while ((got = std::fread(buf, sizeof(float), 4096, in)) > 0) x.insert(x.end(), buf, buf + got);
  std::fclose(in);

  float (*const fns[12])(float) = {
      ::tanhf,    ::expm1f,    ::expf,    ::logf,   ::cosf,          gm::tanhf,
      gm::expm1f, gm::expf,    gm::logf,  gm::cosf, gm::expf_plain, gm::cosf_plain,
  };
  std::FILE* out = std::fopen(argv[2], "wb");
  if (!out) return 4;
  std::vector<float> y(x.size());
  for (auto f : fns) {
    for (size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
    if (std::fwrite(y.data(), sizeof(float), y.size(), out) != y.size()) return 5;
  }
  if (std::fclose(out) != 0) return 6;

  // expf differs between glibc's FMA and plain builds at this input
  // (volatile: keep the compiler from folding the call).
  volatile uint32_t probe = 0x4202422fu;
  float px;
  uint32_t pbits = probe;
  std::memcpy(&px, &pbits, 4);
  const float py = ::expf(px);
  uint32_t ybits;
  std::memcpy(&ybits, &py, 4);
#if defined(__GLIBC__)
  const char* ver = gnu_get_libc_version();
#else
  const char* ver = "none";
#endif
  std::printf("{\"glibc\":\"%s\",\"fma\":%s}\n", ver, ybits == 0x56fc9f1cu ? "true" : "false");
  return 0;
}
