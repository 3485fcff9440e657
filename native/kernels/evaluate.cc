#include "kernels/evaluate.h"

#include <memory>

#include "core/parallel.h"

namespace satrnn {

size_t evaluate_work(const EvalChunk& c, const std::vector<EvalGroup>& groups) {
  size_t w = 0;
  for (const EvalGroup& g : groups) w += (g.given_states ? 0 : c.T) + g.V * c.T;
  return w;
}

bool evaluate_chunk(const EvalChunk& c, std::vector<EvalGroup>& groups, std::atomic<size_t>* progress,
                    std::atomic<bool>& cancel, Method* method_used, uint64_t* fallbacks) {
  const size_t H = c.H, T = c.T, G = groups.size();
  // Phase 1: the dynamics of every group, one group per thread (each is one sequential
  // recurrence). Scratch states only where the caller did not ask for them.
  std::vector<std::vector<float>> scratch(G);
  std::vector<const float*> states(G, nullptr);
  std::vector<float*> outp(G, nullptr);
  std::vector<size_t> dyn;
  for (size_t g = 0; g < G; ++g) {
    EvalGroup& e = groups[g];
    if (e.given_states) {
      states[g] = e.given_states;
      continue;
    }
    float* out = e.states_out;
    if (!out && T > 0) {
      scratch[g].resize(T * H);
      out = scratch[g].data();
    }
    outp[g] = out;
    states[g] = out;
    dyn.push_back(g);
  }
  std::atomic<bool> dyn_cancelled{false};
  parallel_for(dyn.size(), c.threads, cancel, [&](size_t k) {
    EvalGroup& e = groups[dyn[k]];
    if (!run_dynamics(e.dyn, H, c.bytes, c.pos0, T, e.state, outp[dyn[k]], e.pre_out, e.stats, e.steps_before, c.isa, &cancel))
      dyn_cancelled.store(true);
    if (progress) progress->fetch_add(T, std::memory_order_relaxed);
  });
  if (dyn_cancelled.load() || cancel.load()) return false;

  // Phase 2: the readout of every group, cut into tiles by the one tiling policy.
  struct Job {
    size_t g;
    size_t v0, v1, t0, t1;
  };
  std::vector<ReadoutBatch> batches(G);
  std::vector<std::unique_ptr<ModelView>> views(G);
  std::vector<std::unique_ptr<Certificate>> certs(G);
  std::vector<std::vector<double>> bits(G);
  std::vector<Job> jobs;
  std::atomic<uint64_t> fb{0};
  *method_used = c.method;
  for (size_t g = 0; g < G; ++g) {
    EvalGroup& e = groups[g];
    if (e.V == 0 || T == 0) continue;
    views[g] = std::make_unique<ModelView>(e.dyn.weights, H);
    ReadoutBatch& b = batches[g];
    b.model = views[g].get();
    b.states = states[g];
    b.targets = c.bytes + 1;
    b.T = T;
    b.V = e.V;
    b.use = e.use;
    if (e.bits_out) {
      b.bits = e.bits_out;
    } else {
      bits[g].resize(e.V * T);
      b.bits = bits[g].data();
    }
    b.method = c.method;
    b.fallbacks = &fb;
    if (c.method == Method::Certified) {
      if (states_bounded(states[g], T * H)) {
        certs[g] = std::make_unique<Certificate>();
        prepare_certificate(*views[g], certs[g].get());
        b.cert = certs[g].get();
      } else {
        b.method = Method::Ordered;
        *method_used = Method::Ordered;
      }
    }
    const ReadoutTiling tl = readout_tiling(e.V, T, c.threads);
    for (size_t i = 0; i < tl.tiles; ++i) {
      const size_t a = i * tl.tile;
      if (tl.split_positions) jobs.push_back({g, 0, e.V, a, std::min(T, a + tl.tile)});
      else jobs.push_back({g, a, std::min(e.V, a + tl.tile), 0, T});
    }
  }
  std::atomic<size_t> dummy{0};
  parallel_for(jobs.size(), c.threads, cancel, [&](size_t k) {
    const Job& j = jobs[k];
    readout_tile(batches[j.g], j.v0, j.v1, j.t0, j.t1, c.isa, progress ? progress : &dummy, &cancel);
  });
  if (cancel.load()) return false;
  for (size_t g = 0; g < G; ++g)
    if (groups[g].V > 0 && T > 0) add_bits_in_order(batches[g], groups[g].totals);
  if (fallbacks) *fallbacks += fb.load();
  return true;
}

}  // namespace satrnn
