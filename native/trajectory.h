// Exact float32 forward pass (00-common §3).
#pragma once
#include "model_layout.h"

namespace satrnn {

// Feeds bytes[0..steps-1] starting from h0 (or all +0.0 when h0 is null) and writes the
// state after each byte: out[t*H + i] = h_t[i]. Bit-identical on both ISAs.
void forward(const ModelView& m, const uint8_t* bytes, size_t steps, const float* h0,
             float* out, Isa isa);

}  // namespace satrnn
