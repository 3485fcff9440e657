// One chunk of the engine's work: for each group, the states of a block of positions
// (computed by the dynamics primitive from a carried state, or given), then the readout
// variants of the group on those states. Callers loop over chunks carrying the state,
// stats and totals; a chunked run equals a whole-text run bit for bit. How the work is cut
// into jobs (readout tiles behind a running recurrence, or one job per group that
// alternates dynamics and readout a block of positions at a time) never changes a result.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/dynamics.h"
#include "kernels/readout.h"

namespace satrnn {

struct EvalGroup {
  // Dynamics: `weights` (and interventions) of this variant; `state` [H] in/out. When
  // `given_states` is set the group has no dynamics and reads those states instead.
  DynamicsVariant dyn;
  float* state = nullptr;
  uint64_t steps_before = 0;        // steps this variant took in earlier chunks (for flips)
  const float* given_states = nullptr;  // [T][H]
  TrajectoryStats* stats = nullptr;
  float* states_out = nullptr;      // [T][H] optional: the states (else scratch)
  float* pre_out = nullptr;         // [T][H] optional: pre-activations z
  // The group starts at chunk position `from`: its dynamics run from `state` over
  // positions from .. T-1 (rows before `from` of the outputs are not written) and its
  // readout skips the positions before it.
  size_t from = 0;
  // [from][H] optional: the states of the positions before `from` (e.g. the base run's, for
  // a variant that differs from position `from` on): read out as the group's own.
  const float* prefix = nullptr;
  // Readout (V may be 0): variants read the group's Wy/by with `use` codes.
  size_t V = 0;
  const uint8_t* use = nullptr;     // [V][H]
  const float* use_values = nullptr;  // [V][H] values read where use is kFixed
  double* totals = nullptr;         // [V] in/out running sums of bits, t order
  double* bits_out = nullptr;       // [V][T] optional: bits of each prediction of the chunk
  const uint8_t* select = nullptr;  // [T] optional: read out only where select[t] != 0
  double* probs_out = nullptr;      // [V][selected][256] optional: probability rows
};

struct EvalChunk {
  size_t H;
  const uint8_t* bytes;   // the chunk's input bytes, positions pos0 .. pos0+T-1, then (if any
                          // group reads out) one more byte: targets are bytes[1 .. T]
  uint64_t pos0;
  size_t T;
  Isa isa;
  Method method;
  unsigned threads;
};

// Runs the chunk; returns false if cancelled (outputs then incomplete). `progress` (if set)
// counts dynamics steps + readout predictions finished. `method_used` is
// set to Ordered when some group's states were outside [-1, 1] (the certificate's premise).
bool evaluate_chunk(const EvalChunk& c, std::vector<EvalGroup>& groups, std::atomic<size_t>* progress,
                    std::atomic<bool>& cancel, Method* method_used, uint64_t* fallbacks);

// Positions of the chunk a group reads out (from, select).
size_t selected_positions(const EvalChunk& c, const EvalGroup& g);

// Work units of a chunk, for progress totals (dynamics steps + readout predictions).
size_t evaluate_work(const EvalChunk& c, const std::vector<EvalGroup>& groups);

}  // namespace satrnn
