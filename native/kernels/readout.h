// The readout primitive: exact bits per prediction (00-common §4-5) for a batch of readout
// variants over one block of stored states.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/layout.h"

namespace satrnn {

// How a readout variant reads neuron j (the `use` codes, shared with lib/engine/types.ts).
enum Use : uint8_t {
  kAbsent = 0,   // the term is removed (Wy column zeroed)
  kValue = 1,    // float(Wy[o][j] * h_j), as the model does
  kSign = 2,     // float(Wy[o][j] * sgn(h_j)), sgn(h) = +1 for h >= 0 (also -0), else -1
  kNegated = 3,  // float(Wy[o][j] * -h_j)
  kFixed = 4,    // float(Wy[o][j] * c), c = the variant's given value for neuron j (use_values)
};

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
void prepare_certificate(const ModelView& m, Certificate* c);

// Per-model readout statistics (lib/engine/model-stats.ts readoutStatsJs is the TypeScript
// twin, result for result): norms[j] = sqrt of the double sum over o = 0..255 in order of
// float(Wy[o][j]^2); the largest |w| and the number of subnormal weights (0 < |w| < 2^-126)
// among Wy and by. Here because a cold JavaScript loop over the 33k weights costs several
// milliseconds of a ~0.2 s reproduce.
struct ReadoutStats {
  double max_abs = 0.0;
  size_t subnormal = 0;
};
ReadoutStats readout_stats(const float* Wy, const float* by, size_t H, double* norms);

struct ReadoutBatch {
  const ModelView* model;
  const float* states;    // [T][H], the stored hidden states h_t
  const uint8_t* targets; // [T], y_t
  size_t T;
  size_t V;               // number of variants
  const uint8_t* use;     // [V][H] Use codes
  const float* use_values = nullptr;  // [V][H] the values read where use is kFixed (finite)
  double* bits;           // [V][T] out: bits of each prediction; or null, then
  double* totals;         // [V] in/out: running sums, bits added in t order (tiles must
                          // then cover every position)
  const uint8_t* select = nullptr;  // [T] or null: read out only where select[t] != 0
  double* probs = nullptr;          // [V][rows][256] or null: probability rows of the
  const uint32_t* prob_row = nullptr;  // selected positions, row prob_row[t] of each variant
  size_t rows = 0;
  Method method;
  const Certificate* cert;           // required for Method::Certified
  std::atomic<uint64_t>* fallbacks;  // optional: logits that needed the ordered fallback
};

// What every tile of a batch shares, made once per batch: the ISA's repacked Wy and each
// variant's plan (which terms it reads, and from which base its logits are derived).
// `same_weights` (optional): the prep of another batch; its repacked Wy is reused when it
// was made from the same weights array on the same ISA (e.g. neuron-clamp variants).
struct ReadoutPrep;
std::shared_ptr<const ReadoutPrep> prepare_readout(const ReadoutBatch& b, Isa isa, const ReadoutPrep* same_weights = nullptr);

// Evaluates variants [v0, v1) at positions [t0, t1) (a tile) into b.bits[v*T + t], or with
// no bits array (t0 = 0, t1 = T) adds each bit to b.totals[v] in t order.
// Variants and positions are independent, so any tiling and any thread assignment gives
// identical results. `progress` (if set) counts finished predictions (variant-positions).
void readout_tile(const ReadoutBatch& b, const ReadoutPrep& prep, size_t v0, size_t v1, size_t t0, size_t t1,
                  std::atomic<size_t>* progress, const std::atomic<bool>* cancel);

// totals[v] = totals[v] + bits[v*T + t] for the selected t = 0 .. T-1 in order: the spec's §5 running
// sum, continued across chunks (mean = total / predictions once the text is done).
void add_bits_in_order(const ReadoutBatch& b, double* totals);

// Whether every state is within [-1, 1] (the certificate's premise; tanh states always are).
bool states_bounded(const float* states, size_t n);

}  // namespace satrnn
