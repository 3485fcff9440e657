// sat_train kernels (spec sat_train.md): initialisation, learning-rate schedule, one
// training epoch (truncated BPTT + global-norm clipping + SGD) and the trainer's float
// evaluation, bit-exact with the original C at H = 128 and generalised to any H >= 1.
//
// H = 0 or bptt < 1 throw std::invalid_argument; len < 2 is not rejected here and gives
// the C results (no windows: tbpc = 0/0 = NaN; eval: NaN for len 1, -0.0 for len 0), so
// callers should reject it (spec "Edge cases").
//
// All scratch memory is allocated per call (no globals), so concurrent calls on
// different weight arrays are safe.
//
// ISAs (core/cpu.h): Isa::Scalar runs portable loops only, Isa::Sse2 the SSE2 forward
// sums (core/step.h) with the portable backward, Isa::Avx2 and Isa::Avx512 the AVX2 kernels
// throughout; all give identical bytes. An ISA this build or CPU cannot run (isa_available()
// false) silently falls back to the next one down: Avx512 -> Avx2 -> Sse2 -> Scalar.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/cpu.h"
#include "core/layout.h"

namespace satrnn {

struct TrainParams {
  size_t H;              // hidden units (128 reproduces the original)
  int bptt = 50;         // predictions per window; windows hold bptt + 1 bytes, step bptt
  float lr_peak = 0.01f; // cosine schedule peak (original: 0.01f)
  float clip = 5.0f;     // global gradient-norm threshold (original: 5.0f)
};

// Fills weights[param_count(H)] as the original: glibc srand(seed); per hidden unit i the
// Wx row then the Wh row, then the Wy rows; each draw r maps (in float) to
// ((float)r / 2^31 - 0.5f) / (float)H; bh = by = 0.
void train_init(float* weights, size_t H, uint32_t seed = 42);

// Learning rate of epoch e (1-based) of E: lr_peak/2 * (1 + glibc cosf(pi*e/E)), all in
// float, floored at lr_peak*0.01f. Equals the original for lr_peak = 0.01f.
float train_lr(int epoch, int total_epochs, float lr_peak = 0.01f);

// One training epoch over data[0..len-1] with learning rate lr; the hidden state starts
// at zero. Updates weights in place and returns the training bpc (total window loss /
// fround(chars * ln2)). If *cancel becomes true it is noticed between windows: the
// function returns NaN at once, leaving the weights partially updated.
double train_epoch(float* weights, const uint8_t* data, size_t len, float lr,
                   const TrainParams& p, Isa isa, const std::atomic<bool>* cancel = nullptr);

// The trainer's evaluation: float forward/readout/softmax over the whole data from h = 0,
// mean of -logf(max(p, 1e-8f)) in double, divided by fround((float)(len-1) * ln2).
double eval_bpc(const float* weights, size_t H, const uint8_t* data, size_t len, Isa isa);

}  // namespace satrnn
