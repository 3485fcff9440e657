// The dynamics primitive: variants of the exact forward pass over one text, chunk by
// chunk, with the state carried across chunks (so a chunked run equals a whole run bit for
// bit), and the O(T*H) trajectory statistics computed on the fly.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/layout.h"

namespace satrnn {

// What a variant does to neuron j inside the recurrence, after every step (so both the
// readout and the next step see it).
enum NeuronMode : uint8_t {
  kNeuronFree = 0,   // untouched
  kNeuronClamp = 1,  // h_j = value[j] (0 is a full ablation)
  kNeuronSign = 2,   // h_j = +1 if h_j >= 0 (also -0), else -1
};

// One variant of the forward pass. Weight edits (masked or thresholded Wh/Wx entries, a
// zeroed Wh column) are already applied to `weights` by the caller.
struct DynamicsVariant {
  const float* weights = nullptr;      // param_count(H) floats
  const uint8_t* mode = nullptr;       // [H] NeuronMode, or null: no interventions
  const float* value = nullptr;        // [H] clamp values (read where mode == kNeuronClamp)
  const uint64_t* subst_pos = nullptr; // ascending absolute positions whose input byte is replaced
  const uint8_t* subst_byte = nullptr; // the bytes fed there instead
  size_t n_subst = 0;
  // Activation patches: at the ascending absolute positions patch_pos[p], neuron
  // patch_neuron[k] (distinct, < H) is set to patch_value[p * n_patch_neurons + k] after the
  // step and after the `mode` interventions (the patch wins), so the readout at that position
  // and the next step both see it. Values may lie outside [-1, 1] (the readout re-checks).
  const uint64_t* patch_pos = nullptr;
  const uint32_t* patch_neuron = nullptr;
  const float* patch_value = nullptr;  // [n_patch_pos][n_patch_neurons]
  size_t n_patch_pos = 0;
  size_t n_patch_neurons = 0;
};

// Per-neuron statistics of a trajectory, accumulated over the steps in t order (in/out, so
// chunks continue where the previous chunk stopped).
struct TrajectoryStats {
  double* sum;           // [H] sum of h_t[j] in double (the signed mean = sum / T)
  double* sum_abs;       // [H] sum of |h_t[j]| in double (q3's mean|h| = sum / T)
  float* sum_abs_f32;    // [H] the same sum in float (q4_saturation's sumabs)
  float* min_abs;        // [H] smallest |h_t[j]| (start: 2.0f)
  uint32_t* saturated;   // [H] steps with |h_t[j]| >= 0.999f
  uint32_t* flips;       // [H] steps t > 0 where sign(h_t[j]) != sign(h_{t-1}[j]), sign(v) = v >= 0
  uint8_t* last_sign;    // [H] sign of the last state seen (read only when steps_before > 0)
};

// Feeds bytes[0 .. steps-1] (absolute positions pos0 ..) from state `h` (in/out: the state
// before the first byte, then the state after the last). Writes state t to
// states[t*H] and, if `pre` is set, the pre-activations z to pre[t*H]; updates `stats`
// if set (steps_before = steps this variant has already taken, for flips). Checks
// `cancel` every kCancelEvery steps and returns false if it fired. `ready` (optional) is
// set to ready_offset + the number of states written so far (release order), for readers
// that follow the recurrence (the offset makes it a chunk position).
bool run_dynamics(const DynamicsVariant& v, size_t H, const uint8_t* bytes, uint64_t pos0, size_t steps, float* h,
                  float* states, float* pre, const TrajectoryStats* stats, uint64_t steps_before, Isa isa,
                  const std::atomic<bool>* cancel, std::atomic<size_t>* ready = nullptr, size_t ready_offset = 0);

// How often the recurrence looks at its cancel flag, in positions (at most every 4,096 is
// the engine's promise; the readout looks at every position).
constexpr size_t kCancelEvery = 1024;

}  // namespace satrnn
