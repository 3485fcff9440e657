#include "trajectory.h"

#include <cstring>
#include <vector>

#include "math/glibc_float.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace satrnn {
namespace {

// One step, literally as the spec orders it: z = float(bh + Wx) first, then the H
// recurrent products added left to right, each product and each sum rounded to float.
void step_scalar(const ModelView& m, const float* h, uint8_t x, float* hn) {
  const size_t H = m.H;
  for (size_t i = 0; i < H; ++i) {
    float z = m.bh[i] + m.Wx[i * kVocab + x];
    const float* w = m.Wh + i * H;
    for (size_t j = 0; j < H; ++j) {
      float p = w[j] * h[j];
      z = z + p;
    }
    hn[i] = gmath::tanhf(z);
  }
}

void forward_scalar(const ModelView& m, const uint8_t* bytes, size_t steps, const float* h0,
                    float* out) {
  const size_t H = m.H;
  std::vector<float> h(H, 0.0f);
  if (h0) std::memcpy(h.data(), h0, H * sizeof(float));
  for (size_t t = 0; t < steps; ++t) {
    float* hn = out + t * H;
    step_scalar(m, h.data(), bytes[t], hn);
    std::memcpy(h.data(), hn, H * sizeof(float));
  }
}

#if defined(__x86_64__)
// Eight hidden units per vector: lane k of block b is unit 8b+k, and every lane adds
// its recurrent terms in the same j order as the scalar code (separate mul and add,
// never FMA), so results are bit-identical. Wh is repacked as [block][j][8].
__attribute__((target("avx2"))) void forward_avx2(const ModelView& m, const uint8_t* bytes,
                                                  size_t steps, const float* h0, float* out) {
  const size_t H = m.H;
  const size_t nb = (H + 7) / 8;
  std::vector<float> packed(nb * H * 8, 0.0f);
  for (size_t i = 0; i < H; ++i)
    for (size_t j = 0; j < H; ++j) packed[((i / 8) * H + j) * 8 + (i % 8)] = m.Wh[i * H + j];
  std::vector<float> h(H, 0.0f), z(nb * 8, 0.0f);
  if (h0) std::memcpy(h.data(), h0, H * sizeof(float));
  for (size_t t = 0; t < steps; ++t) {
    const uint8_t x = bytes[t];
    for (size_t i = 0; i < H; ++i) z[i] = m.bh[i] + m.Wx[i * kVocab + x];
    for (size_t b = 0; b < nb; ++b) {
      __m256 acc = _mm256_loadu_ps(&z[b * 8]);
      const float* w = &packed[b * H * 8];
      for (size_t j = 0; j < H; ++j) {
        __m256 p = _mm256_mul_ps(_mm256_loadu_ps(w + j * 8), _mm256_set1_ps(h[j]));
        acc = _mm256_add_ps(acc, p);
      }
      _mm256_storeu_ps(&z[b * 8], acc);
    }
    float* hn = out + t * H;
    for (size_t i = 0; i < H; ++i) hn[i] = gmath::tanhf(z[i]);
    std::memcpy(h.data(), hn, H * sizeof(float));
  }
}
#endif

}  // namespace

void forward(const ModelView& m, const uint8_t* bytes, size_t steps, const float* h0,
             float* out, Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::Avx2) return forward_avx2(m, bytes, steps, h0, out);
#endif
  (void)isa;
  forward_scalar(m, bytes, steps, h0, out);
}

}  // namespace satrnn
