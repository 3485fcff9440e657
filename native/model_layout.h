// Raw sat-rnn parameter layout (00-common §1), generalised to any hidden size H:
// Wx[H][256], Wh[H][H], bh[H], Wy[256][H], by[256], row-major, back to back.
#pragma once
#include <cstddef>
#include <cstdint>

namespace satrnn {

constexpr int kVocab = 256;

inline size_t param_count(size_t H) { return H * H + 2 * kVocab * H + H + kVocab; }

struct ModelView {
  size_t H;
  const float* Wx;  // [H][256]
  const float* Wh;  // [H][H]
  const float* bh;  // [H]
  const float* Wy;  // [256][H]
  const float* by;  // [256]

  ModelView(const float* p, size_t h)
      : H(h), Wx(p), Wh(p + h * kVocab), bh(Wh + h * h), Wy(bh + h), by(Wy + kVocab * h) {}
};

enum class Isa : int { Scalar = 0, Avx2 = 1 };

}  // namespace satrnn
