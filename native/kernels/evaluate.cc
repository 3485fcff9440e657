#include "kernels/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

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

// The first position a group reads out: `from`, or 0 when a prefix supplies the states before it.
static size_t first_read(const EvalGroup& g) { return g.prefix ? 0 : g.from; }

size_t selected_positions(const EvalChunk& c, const EvalGroup& g) {
  size_t n = 0;
  for (size_t t = first_read(g); t < c.T; ++t) n += !g.select || g.select[t];
  return n;
}

size_t evaluate_work(const EvalChunk& c, const std::vector<EvalGroup>& groups) {
  size_t w = 0;
  for (const EvalGroup& g : groups) w += (g.given_states ? 0 : c.T - g.from) + g.V * selected_positions(c, g);
  return w;
}

// Whether a group's states are within [-1, 1] by construction: tanh outputs and signs are;
// clamp values must be. (Checked again after the run: a pathological model whose sums
// overflow to NaN is caught there.)
static bool bounded_by_construction(const EvalGroup& e, size_t H) {
  if (!e.dyn.mode) return true;
  for (size_t j = 0; j < H; ++j)
    if (e.dyn.mode[j] == kNeuronClamp && !(std::fabs(e.dyn.value[j]) <= 1.0f)) return false;
  return true;
}

bool evaluate_chunk(const EvalChunk& c, std::vector<EvalGroup>& groups, std::atomic<size_t>* progress,
                    std::atomic<bool>& cancel, Method* method_used, uint64_t* fallbacks) {
  const size_t H = c.H, T = c.T, G = groups.size();
  // Readout tiles of a group with dynamics can be position ranges that start as soon as the
  // recurrence has produced their states (one thread runs the recurrence, the others read
  // out behind it); otherwise the one tiling policy.
  // Pipelining pays when the recurrences are fewer than the threads (otherwise every thread
  // is busy with a recurrence first anyway).
  size_t recurrences = 0;
  for (const EvalGroup& e : groups) recurrences += e.given_states ? 0 : 1;
  const bool pipeline = c.threads > 1 && recurrences < c.threads;
  auto tiling = [&](const EvalGroup& e) {
    if (!e.given_states && pipeline) return pipelined_tiling(T, c.threads);
    return readout_tiling(e.V, T, c.threads);
  };
  size_t scratch_states = 0, scratch_bits = 0;
  for (const EvalGroup& e : groups) {
    if (!e.given_states && !e.states_out) scratch_states += T * H;
    if (e.V > 0 && !e.bits_out && tiling(e).split_positions) scratch_bits += e.V * T;
  }
  Scratch<float> sstates(tls_states, scratch_states);
  Scratch<double> sbits(tls_bits, scratch_bits);
  float* next_states = tls_states.data();
  double* next_bits = tls_bits.data();

  // Dynamics jobs first (each one sequential recurrence), then readout tiles: threads take
  // jobs in this order, so a tile only ever waits for a recurrence that is running.
  struct Job {
    size_t g;
    bool dynamics;
    size_t v0, v1, t0, t1;
  };
  std::vector<Job> jobs;
  std::vector<const float*> states(G, nullptr);
  std::vector<float*> outp(G, nullptr);
  std::unique_ptr<std::atomic<size_t>[]> ready(new std::atomic<size_t>[G]);
  for (size_t g = 0; g < G; ++g) {
    EvalGroup& e = groups[g];
    ready[g].store(e.given_states ? T : e.from);
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
    if (e.prefix && e.from > 0) std::memcpy(out, e.prefix, e.from * H * sizeof(float));
    jobs.push_back({g, true, 0, 0, e.from, T});
  }

  std::vector<ReadoutBatch> batches(G);
  std::vector<std::unique_ptr<ModelView>> views(G);
  std::vector<std::unique_ptr<Certificate>> certs(G);
  std::vector<std::shared_ptr<const ReadoutPrep>> preps(G);
  std::vector<std::vector<uint8_t>> masks(G);
  std::vector<std::vector<uint32_t>> prob_rows(G);
  std::vector<std::vector<double>> totals_before(G);
  std::atomic<uint64_t> fb{0};
  *method_used = c.method;
  for (size_t g = 0; g < G; ++g) {
    EvalGroup& e = groups[g];
    if (e.V == 0 || T == 0 || selected_positions(c, e) == 0) continue;
    views[g] = std::make_unique<ModelView>(e.dyn.weights, H);
    ReadoutBatch& b = batches[g];
    b.model = views[g].get();
    b.states = states[g];
    b.targets = c.bytes + 1;
    b.T = T;
    b.V = e.V;
    b.use = e.use;
    // Positions read out: from the first one with states, and where `select` says so.
    const size_t first = first_read(e);
    if (first > 0 || e.select) {
      masks[g].assign(T, 0);
      for (size_t t = first; t < T; ++t) masks[g][t] = !e.select || e.select[t];
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
    const ReadoutTiling tl = tiling(e);
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
      totals_before[g].assign(e.totals, e.totals + e.V);  // restored if the readout is redone
    }
    b.method = c.method;
    b.fallbacks = &fb;
    const bool bounded = e.given_states ? states_bounded(states[g], T * H)
                                        : bounded_by_construction(e, H) && (!e.prefix || states_bounded(e.prefix, e.from * H));
    if (c.method == Method::Certified) {
      if (bounded) {
        certs[g] = std::make_unique<Certificate>();
        prepare_certificate(*views[g], certs[g].get());
        b.cert = certs[g].get();
      } else {
        b.method = Method::Ordered;
        *method_used = Method::Ordered;
      }
    }
    preps[g] = prepare_readout(b, c.isa);
    for (size_t i = 0; i < tl.tiles; ++i) {
      const size_t a = i * tl.tile;
      if (tl.split_positions) jobs.push_back({g, false, 0, e.V, a, std::min(T, a + tl.tile)});
      else jobs.push_back({g, false, a, std::min(e.V, a + tl.tile), 0, T});
    }
  }

  parallel_for(jobs.size(), c.threads, cancel, [&](size_t k) {
    const Job& j = jobs[k];
    EvalGroup& e = groups[j.g];
    if (j.dynamics) {
      const size_t f = e.from;
      if (!run_dynamics(e.dyn, H, c.bytes + f, c.pos0 + f, T - f, e.state, outp[j.g] + f * H, e.pre_out ? e.pre_out + f * H : nullptr,
                        e.stats, e.steps_before, c.isa, &cancel, &ready[j.g], f))
        return;
      ready[j.g].store(T, std::memory_order_release);
      if (progress) progress->fetch_add(T - f, std::memory_order_relaxed);
      return;
    }
    // Wait for the recurrence to pass this tile (it is running on another thread).
    while (ready[j.g].load(std::memory_order_acquire) < j.t1) {
      if (cancel.load(std::memory_order_relaxed)) return;
      std::this_thread::yield();
    }
    readout_tile(batches[j.g], *preps[j.g], j.v0, j.v1, j.t0, j.t1, progress, &cancel);
  });
  if (cancel.load()) return false;
  for (size_t g = 0; g < G; ++g) {
    if (!preps[g]) continue;
    ReadoutBatch& b = batches[g];
    // A certified readout of states that left [-1, 1] after all (overflowing sums): redo it
    // with the ordered sums, the reference.
    const size_t first = first_read(groups[g]);
    if (b.method == Method::Certified && !groups[g].given_states && !states_bounded(states[g] + first * H, (T - first) * H)) {
      b.method = Method::Ordered;
      b.cert = nullptr;
      *method_used = Method::Ordered;
      if (!b.bits) std::copy(totals_before[g].begin(), totals_before[g].end(), groups[g].totals);
      readout_tile(b, *preps[g], 0, b.V, 0, T, nullptr, &cancel);
      if (cancel.load()) return false;
    }
    if (b.bits) add_bits_in_order(b, groups[g].totals);
  }
  if (fallbacks) *fallbacks += fb.load();
  return true;
}

}  // namespace satrnn
