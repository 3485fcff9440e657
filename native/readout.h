// Exact readout (00-common §4-5) over a batch of readout variants sharing one trajectory.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>
#include "model_layout.h"

namespace satrnn {

enum class Method : int {
  // Every logit summed from by[o] over the variant's kept terms in j order: the spec, literally.
  Ordered = 0,
  // Full sums once per position, then each variant's changes applied as exact subtractions
  // and additions where a certificate proves every partial sum is exact (00-common §4);
  // uncertified logits fall back to the ordered sum. Bit-identical to Ordered.
  Certified = 1,
};

// Per-output constants of the certificate, computed once per model.
struct Certificate {
  // (|by[o]| + sum_j |Wy[o][j]|) * (1 + 2^-40): bounds every partial sum of any mix of
  // products Wy*h (|h| <= 1) and sign-snap terms +-Wy, with margin for its own rounding.
  double bound[kVocab];
  // Smallest biased float exponent among the nonzero by[o], Wy[o][j] (255 if none).
  int min_exp[kVocab];
  // limit[E] = 2^(E-150+53): sums of multiples of 2^(E-150) below it are exact.
  double limit[256];
};
void prepare_certificate(const struct ModelView& m, Certificate* c);

struct ReadoutBatch {
  const ModelView* model;
  const float* states;    // [T][H], the stored hidden states h_t
  const uint8_t* targets; // [T], y_t
  size_t T;
  size_t V;               // number of variants
  const uint8_t* keep;    // [V][H]: 1 = neuron j's readout term is used, 0 = knocked out
  const uint8_t* snap;    // [V][H] or null: 1 = h_t[j] replaced by its sign (+1/-1) for readout
  double* mean_bits;      // [V] out: mean bits per character
  double* bits;           // [V][T] out, or null: bits of each prediction (see readout_tile)
  Method method;
  const Certificate* cert;           // required for Method::Certified
  std::atomic<uint64_t>* fallbacks;  // optional: logits that needed the ordered fallback
};

// Evaluates variants [v0, v1) at positions [t0, t1) (a tile). With b.bits set, writes each
// prediction's bits to b.bits[v*T + t] and leaves the means to means_from_bits; without it
// the tile must cover every position and writes mean_bits[v]. Variants and positions are
// independent, so any tiling and any thread assignment gives identical results.
// `progress` (if set) counts finished predictions (variant-position pairs).
void readout_tile(const ReadoutBatch& b, size_t v0, size_t v1, size_t t0, size_t t1, Isa isa,
                  std::atomic<size_t>* progress, const std::atomic<bool>* cancel);

// mean_bits[v] = (sum over t in order of bits[v*T + t]) / T: the spec's §5 accumulation.
void means_from_bits(const ReadoutBatch& b);

}  // namespace satrnn
