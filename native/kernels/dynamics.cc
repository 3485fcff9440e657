#include "kernels/dynamics.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/step.h"

namespace satrnn {

bool run_dynamics(const DynamicsVariant& v, size_t H, const uint8_t* bytes, uint64_t pos0, size_t steps, float* h,
                  float* states, float* pre, const TrajectoryStats* stats, uint64_t steps_before, Isa isa,
                  const std::atomic<bool>* cancel, std::atomic<size_t>* ready, size_t ready_offset) {
  const ModelView m(v.weights, H);
  StepKernel k(H, isa);
  k.prepare(m.Wh);
  std::vector<float> cur(h, h + H);
  // First substitution at or after pos0.
  size_t s = 0;
  while (s < v.n_subst && v.subst_pos[s] < pos0) ++s;
  // First patch at or after pos0.
  size_t p = 0;
  while (p < v.n_patch_pos && v.patch_pos[p] < pos0) ++p;
  for (size_t t = 0; t < steps; ++t) {
    if (t % kCancelEvery == 0 && cancel && cancel->load(std::memory_order_relaxed)) return false;
    uint8_t x = bytes[t];
    if (s < v.n_subst && v.subst_pos[s] == pos0 + t) x = v.subst_byte[s++];
    float* hn = states + t * H;
    k.step(m.Wx, m.bh, cur.data(), x, hn, pre ? pre + t * H : nullptr);
    if (v.mode)
      for (size_t j = 0; j < H; ++j) {
        if (v.mode[j] == kNeuronClamp) hn[j] = v.value[j];
        else if (v.mode[j] == kNeuronSign) hn[j] = hn[j] >= 0.0f ? 1.0f : -1.0f;
      }
    if (p < v.n_patch_pos && v.patch_pos[p] == pos0 + t) {
      const float* row = v.patch_value + p * v.n_patch_neurons;
      for (size_t k = 0; k < v.n_patch_neurons; ++k) hn[v.patch_neuron[k]] = row[k];
      ++p;
    }
    if (stats) {
      const bool first = steps_before + t == 0;
      for (size_t j = 0; j < H; ++j) {
        const float a = std::fabs(hn[j]);
        stats->sum[j] = stats->sum[j] + static_cast<double>(hn[j]);
        stats->sum_abs[j] = stats->sum_abs[j] + static_cast<double>(a);
        stats->sum_abs_f32[j] = stats->sum_abs_f32[j] + a;
        if (a < stats->min_abs[j]) stats->min_abs[j] = a;
        if (a >= 0.999f) ++stats->saturated[j];
        const uint8_t sg = hn[j] >= 0.0f ? 1 : 0;
        if (!first && sg != stats->last_sign[j]) ++stats->flips[j];
        stats->last_sign[j] = sg;
      }
    }
    std::memcpy(cur.data(), hn, H * sizeof(float));
    if (ready) ready->store(ready_offset + t + 1, std::memory_order_release);
  }
  std::memcpy(h, cur.data(), H * sizeof(float));
  return true;
}

}  // namespace satrnn
