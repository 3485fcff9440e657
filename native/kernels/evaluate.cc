#include "kernels/evaluate.h"

#include <memory>

#include "core/parallel.h"

namespace satrnn {
namespace {

// Scratch memory of the calling thread, reused across chunks and calls: on this machine
// class every freshly touched 4 KiB page costs ~10 us (the VM hands freed pages back), so
// a q5 pass would spend more time faulting in 4 MB of scratch states than computing them.
// Memory above kKeepScratchBytes is released after the call.
constexpr size_t kKeepScratchBytes = size_t{16} << 20;

template <typename T>
struct Scratch {
  std::vector<T>& buf;
  explicit Scratch(std::vector<T>& b, size_t n) : buf(b) {
    if (buf.size() < n) buf.resize(n);
  }
  ~Scratch() {
    if (buf.capacity() * sizeof(T) > kKeepScratchBytes) std::vector<T>().swap(buf);
  }
};

thread_local std::vector<float> tls_states;
thread_local std::vector<double> tls_bits;

}  // namespace

size_t selected_positions(const EvalChunk& c, const EvalGroup& g) {
  size_t n = 0;
  for (size_t t = g.from; t < c.T; ++t) n += !g.select || g.select[t];
  return n;
}

size_t evaluate_work(const EvalChunk& c, const std::vector<EvalGroup>& groups) {
  size_t w = 0;
  for (const EvalGroup& g : groups) w += (g.given_states ? 0 : c.T - g.from) + g.V * selected_positions(c, g);
  return w;
}

bool evaluate_chunk(const EvalChunk& c, std::vector<EvalGroup>& groups, std::atomic<size_t>* progress,
                    std::atomic<bool>& cancel, Method* method_used, uint64_t* fallbacks) {
  const size_t H = c.H, T = c.T, G = groups.size();
  // Phase 1: the dynamics of every group, one group per thread (each is one sequential
  // recurrence). Scratch states only where the caller did not ask for them.
  size_t scratch_states = 0, scratch_bits = 0;
  for (const EvalGroup& e : groups) {
    if (!e.given_states && !e.states_out) scratch_states += T * H;
    if (e.V > 0 && !e.bits_out && readout_tiling(e.V, T, c.threads).split_positions) scratch_bits += e.V * T;
  }
  Scratch<float> sstates(tls_states, scratch_states);
  Scratch<double> sbits(tls_bits, scratch_bits);
  float* next_states = tls_states.data();
  double* next_bits = tls_bits.data();
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
      out = next_states;
      next_states += T * H;
    }
    outp[g] = out;
    states[g] = out;
    dyn.push_back(g);
  }
  std::atomic<bool> dyn_cancelled{false};
  parallel_for(dyn.size(), c.threads, cancel, [&](size_t k) {
    EvalGroup& e = groups[dyn[k]];
    const size_t f = e.from;
    if (!run_dynamics(e.dyn, H, c.bytes + f, c.pos0 + f, T - f, e.state, outp[dyn[k]] + f * H, e.pre_out ? e.pre_out + f * H : nullptr,
                      e.stats, e.steps_before, c.isa, &cancel))
      dyn_cancelled.store(true);
    if (progress) progress->fetch_add(T - f, std::memory_order_relaxed);
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
  std::vector<Job> jobs;
  std::vector<std::vector<uint8_t>> masks(G);
  std::vector<std::vector<uint32_t>> prob_rows(G);
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
    // Positions read out: after `from`, and where `select` says so.
    if (e.from > 0 || e.select) {
      masks[g].assign(T, 0);
      for (size_t t = e.from; t < T; ++t) masks[g][t] = !e.select || e.select[t];
      b.select = masks[g].data();
    }
    if (e.probs_out) {
      prob_rows[g].assign(T, 0);
      size_t r = 0;
      for (size_t t = 0; t < T; ++t)
        if (!b.select || b.select[t]) prob_rows[g][t] = static_cast<uint32_t>(r++);
      b.probs = e.probs_out;
      b.prob_row = prob_rows[g].data();
      b.rows = r;
    }
    const ReadoutTiling tl = readout_tiling(e.V, T, c.threads);
    // Variant tiles cover every position: they add to the running totals directly, in t
    // order; position tiles need the bits array (summed in t order afterwards).
    if (e.bits_out) {
      b.bits = e.bits_out;
    } else if (tl.split_positions) {
      b.bits = next_bits;
      next_bits += e.V * T;
    } else {
      b.bits = nullptr;
      b.totals = e.totals;
    }
    b.method = c.method;
    b.fallbacks = &fb;
    if (c.method == Method::Certified) {
      if (states_bounded(states[g] + e.from * H, (T - e.from) * H)) {
        certs[g] = std::make_unique<Certificate>();
        prepare_certificate(*views[g], certs[g].get());
        b.cert = certs[g].get();
      } else {
        b.method = Method::Ordered;
        *method_used = Method::Ordered;
      }
    }
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
    if (groups[g].V > 0 && T > 0 && batches[g].bits) add_bits_in_order(batches[g], groups[g].totals);
  if (fallbacks) *fallbacks += fb.load();
  return true;
}

}  // namespace satrnn
