// THE exact forward step (00-common §3), used by every exact kernel: dynamics (analyses)
// and the exact trainer. One step with input byte x:
//   z[i] = float(bh[i] + Wx[i][x]), then z[i] = float(z[i] + float(Wh[i][j] * h[j]))
//   for j = 0 .. H-1 in order, then h'[i] = glibc tanhf(z[i]).
// The matrix-vector sums behind it (also the trainer's float readout) have one
// implementation per ISA; lanes are independent rows, each summed in j order with a
// separate multiply and add, so every ISA gives the same bits. So does tanhf: AVX2 and
// SSE2 evaluate it on 8 / 4 units at once (math/tanhf_vec.h, the scalar port's bits in
// every lane for all 2^32 inputs).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/cpu.h"

namespace satrnn {

// Rows per vector on `isa`: 1 (portable loops), 4 (SSE2) or 8 (AVX2; also on Avx512, whose
// step is the AVX2 step).
size_t lanes(Isa isa);

// rows [R][H] -> blocks of L rows stored j-major, [ceil(R/L)][H][L]: lane l of block b is
// row L*b + l (padding lanes keep what dst held: zero-fill dst first). L = 1 is a copy.
void pack_rows(const float* rows, size_t R, size_t H, size_t L, float* dst);

// out[r] = init[r], then out[r] = float(out[r] + float(row_r[j] * v[j])) for j in order,
// for every r < ceil(R/L)*L, where `packed` holds the rows as pack_rows(.., lanes(isa), ..)
// left them. init and out have ceil(R/L)*L entries and may alias.
void packed_matvec(Isa isa, const float* packed, size_t R, size_t H, const float* v, const float* init, float* out);

// The recurrence on one ISA, with Wh packed once per weight change.
class StepKernel {
 public:
  StepKernel(size_t H, Isa isa);
  // Packs Wh [H][H]; call again whenever Wh changes.
  void prepare(const float* Wh);
  // hn = F(h, x) with Wx [H][256] and bh [H]; `pre` (optional) receives z. hn may not alias h.
  void step(const float* Wx, const float* bh, const float* h, uint8_t x, float* hn, float* pre = nullptr);
  size_t hidden() const { return H_; }
  Isa isa() const { return isa_; }

 private:
  size_t H_;
  Isa isa_;
  size_t rows_;  // H rounded up to the lane count
  std::vector<float> packed_, z_;
};

}  // namespace satrnn
