#include "kernels/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#include "core/big_alloc.h"
#include "core/parallel.h"

namespace satrnn {
namespace {

// Scratch memory of the calling thread, reused across chunks and calls: on this machine
// class every freshly touched 4 KiB page costs ~10 us (the VM hands freed pages back), so
// a q5 pass would spend more time faulting in 4 MB of scratch states than computing them;
// large scratch is on huge pages (core/big_alloc.h), so even the first call pays little.
// Memory above kKeepScratchBytes is released after the call.
constexpr size_t kKeepScratchBytes = size_t{16} << 20;

template <typename T>
struct Scratch {
  BigBuffer<T>& buf;
  T* data;
  explicit Scratch(BigBuffer<T>& b, size_t n) : buf(b), data(b.reserve(n)) {}
  ~Scratch() {
    if (buf.capacity_bytes() > kKeepScratchBytes) buf.release();
  }
};

thread_local BigBuffer<float> tls_states;
thread_local BigBuffer<double> tls_bits;

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
// clamp and patch values must be. (Checked again after the run: a pathological model whose sums
// overflow to NaN is caught there.)
static bool bounded_by_construction(const EvalGroup& e, size_t H) {
  // Patched values are written into the states as given (a donor run's states are tanh
  // outputs, but a caller may patch anything).
  for (size_t i = 0; i < e.dyn.n_patch_pos * e.dyn.n_patch_neurons; ++i)
    if (!(std::fabs(e.dyn.patch_value[i]) <= 1.0f)) return false;
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
  // is busy with a recurrence first anyway). Then groups with few readout variants are
  // fused instead: one job runs the dynamics and the readout block by block.
  size_t recurrences = 0;
  for (const EvalGroup& e : groups) recurrences += e.given_states ? 0 : 1;
  const bool pipeline = c.threads > 1 && recurrences < c.threads;
  std::vector<char> fused(G, 0);
  std::vector<size_t> candidates, fusable;
  for (size_t g = 0; g < G; ++g) {
    const EvalGroup& e = groups[g];
    // (A group that only writes its states gains nothing from blocks.)
    const bool only_states = e.V == 0 && e.states_out;
    if (!pipeline && !e.given_states && !only_states && T > 0) candidates.push_back(g);
  }
  // Any group is fused when one thread runs them all or when there are jobs enough to
  // balance the threads; otherwise only groups with few readout variants (tiles share the
  // readout of the others).
  const bool any_variants = c.threads == 1 || candidates.size() >= kFuseAllFromGroupsPerThread * c.threads;
  for (size_t g : candidates)
    if (any_variants || groups[g].V <= kFuseMaxVariants) fusable.push_back(g);
  // Whole rounds of fused jobs (one per thread); the groups left over, those with the most
  // variants, run as a recurrence and readout tiles, which the threads share at the end.
  std::stable_sort(fusable.begin(), fusable.end(), [&](size_t a, size_t b) { return groups[a].V > groups[b].V; });
  const size_t left_over = c.threads > 1 ? fusable.size() % c.threads : 0;
  bool any_fused_buffer = false;
  for (size_t i = left_over; i < fusable.size(); ++i) {
    fused[fusable[i]] = 1;
    any_fused_buffer = any_fused_buffer || !groups[fusable[i]].states_out;
  }
  auto tiling = [&](const EvalGroup& e) {
    if (!e.given_states && pipeline) return pipelined_tiling(T, c.threads);
    return readout_tiling(e.V, T, c.threads);
  };
  // Scratch: chunk-sized states of the other groups with dynamics, one block per thread
  // for the fused groups, and bits arrays of position tiles.
  const size_t workers = std::max<size_t>(1, std::min<size_t>(c.threads, kMaxThreads));
  size_t scratch_states = any_fused_buffer ? workers * kFuseBlock * H : 0, scratch_bits = 0;
  for (size_t g = 0; g < G; ++g) {
    const EvalGroup& e = groups[g];
    if (fused[g]) continue;
    if (!e.given_states && !e.states_out) scratch_states += T * H;
    if (e.V > 0 && !e.bits_out && tiling(e).split_positions) scratch_bits += e.V * T;
  }
  Scratch<float> sstates(tls_states, scratch_states);
  Scratch<double> sbits(tls_bits, scratch_bits);
  float* next_states = sstates.data;
  double* next_bits = sbits.data;
  float* fuse_buffers = nullptr;
  if (any_fused_buffer) {
    fuse_buffers = next_states;
    next_states += workers * kFuseBlock * H;
  }

  // Dynamics jobs first (each one sequential recurrence), then fused jobs (largest first),
  // then readout tiles: threads take jobs in this order, so a tile only ever waits for a
  // recurrence that is running, and the tiles even out the threads' load at the end.
  enum Kind { kDynamics, kFused, kReadout };
  struct Job {
    size_t g;
    Kind kind;
    size_t v0, v1, t0, t1;
  };
  std::vector<Job> jobs, fused_jobs, tiles;
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
    if (fused[g]) continue;
    float* out = e.states_out;
    if (!out && T > 0) {
      out = next_states;
      next_states += T * H;
    }
    outp[g] = out;
    states[g] = out;
    if (e.prefix && e.from > 0) std::memcpy(out, e.prefix, e.from * H * sizeof(float));
    jobs.push_back({g, kDynamics, 0, 0, e.from, T});
  }
  for (size_t i = left_over; i < fusable.size(); ++i) fused_jobs.push_back({fusable[i], kFused, 0, 0, 0, T});  // most variants first

  std::vector<ReadoutBatch> batches(G);
  std::vector<std::unique_ptr<ModelView>> views(G);
  std::vector<std::shared_ptr<const ReadoutPrep>> preps(G);
  std::vector<std::vector<uint8_t>> masks(G);
  std::vector<std::vector<uint32_t>> prob_rows(G);
  std::vector<std::vector<double>> totals_before(G);
  // Certificates and repacked readout weights, one per distinct weights array.
  std::vector<std::pair<const float*, std::unique_ptr<Certificate>>> certs;
  std::vector<std::pair<const float*, const ReadoutPrep*>> packed;
  auto certificate_of = [&](const ModelView& mv) {
    for (auto& p : certs)
      if (p.first == mv.Wy) return p.second.get();
    certs.emplace_back(mv.Wy, std::make_unique<Certificate>());
    prepare_certificate(mv, certs.back().second.get());
    return certs.back().second.get();
  };
  std::atomic<uint64_t> fb{0};
  std::atomic<bool> ordered_used{false};
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
    b.use_values = e.use_values;
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
    b.method = c.method;
    b.fallbacks = &fb;
    const ReadoutPrep* same = nullptr;
    for (auto& p : packed)
      if (p.first == e.dyn.weights) same = p.second;
    if (fused[g]) {
      // One job visits every position in order: bits go to the bits array or straight to
      // the totals. The method is chosen per block (states_bounded) in the job.
      b.bits = e.bits_out;
      b.totals = e.totals;
      if (c.method == Method::Certified) b.cert = certificate_of(*views[g]);
      preps[g] = prepare_readout(b, c.isa, same);
      if (!same) packed.emplace_back(e.dyn.weights, preps[g].get());
      continue;
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
    const bool bounded = e.given_states ? states_bounded(states[g], T * H)
                                        : bounded_by_construction(e, H) && (!e.prefix || states_bounded(e.prefix, e.from * H));
    if (c.method == Method::Certified) {
      if (bounded) {
        b.cert = certificate_of(*views[g]);
      } else {
        b.method = Method::Ordered;
        ordered_used.store(true);
      }
    }
    preps[g] = prepare_readout(b, c.isa, same);
    if (!same) packed.emplace_back(e.dyn.weights, preps[g].get());
    for (size_t i = 0; i < tl.tiles; ++i) {
      const size_t a = i * tl.tile;
      if (tl.split_positions) tiles.push_back({g, kReadout, 0, e.V, a, std::min(T, a + tl.tile)});
      else tiles.push_back({g, kReadout, a, std::min(e.V, a + tl.tile), 0, T});
    }
  }
  jobs.insert(jobs.end(), fused_jobs.begin(), fused_jobs.end());
  jobs.insert(jobs.end(), tiles.begin(), tiles.end());

  // Reads out positions t0 .. t1-1 of a fused group whose states are `rows` (row 0 = t0):
  // the batch seen through a window (bits keep their stride T). Certified only where the
  // block's states are within [-1, 1] (the certificate's premise); the ordered sums give
  // the same bits elsewhere.
  auto read_block = [&](size_t g, const float* rows, size_t t0, size_t t1) {
    if (!preps[g]) return;
    ReadoutBatch w = batches[g];
    w.states = rows;
    w.targets += t0;
    if (w.select) w.select += t0;
    if (w.bits) w.bits += t0;
    if (w.prob_row) w.prob_row += t0;
    if (w.method == Method::Certified && !states_bounded(rows, (t1 - t0) * H)) {
      w.method = Method::Ordered;
      w.cert = nullptr;
      ordered_used.store(true, std::memory_order_relaxed);
    }
    readout_tile(w, *preps[g], 0, w.V, 0, t1 - t0, progress, &cancel);
  };
  auto run_fused = [&](size_t g, unsigned worker) {
    EvalGroup& e = groups[g];
    const size_t f = e.from;
    // Before `from`: the prefix's states (read where they are; copied to states_out as the
    // other path does), or nothing to read.
    if (e.prefix && f > 0) {
      if (e.states_out) std::memcpy(e.states_out, e.prefix, f * H * sizeof(float));
      for (size_t t0 = 0; t0 < f && !cancel.load(std::memory_order_relaxed); t0 += kFuseBlock)
        read_block(g, e.prefix + t0 * H, t0, std::min(f, t0 + kFuseBlock));
    }
    float* buffer = fuse_buffers ? fuse_buffers + worker * kFuseBlock * H : nullptr;
    for (size_t t0 = f; t0 < T; t0 += kFuseBlock) {
      const size_t t1 = std::min(T, t0 + kFuseBlock);
      float* rows = e.states_out ? e.states_out + t0 * H : buffer;
      // The recurrence continues from e.state; steps_before counts the steps already taken
      // (sign flips), so the blocks equal one call bit for bit.
      if (!run_dynamics(e.dyn, H, c.bytes + t0, c.pos0 + t0, t1 - t0, e.state, rows, e.pre_out ? e.pre_out + t0 * H : nullptr,
                        e.stats, e.steps_before + (t0 - f), c.isa, &cancel))
        return;
      if (progress) progress->fetch_add(t1 - t0, std::memory_order_relaxed);
      read_block(g, rows, t0, t1);
      if (cancel.load(std::memory_order_relaxed)) return;
    }
  };

  parallel_for_workers(jobs.size(), c.threads, cancel, [&](size_t k, unsigned worker) {
    const Job& j = jobs[k];
    EvalGroup& e = groups[j.g];
    if (j.kind == kFused) return run_fused(j.g, worker);
    if (j.kind == kDynamics) {
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
    // with the ordered sums, the reference. (Fused groups chose per block.)
    const size_t first = first_read(groups[g]);
    if (!fused[g] && b.method == Method::Certified && !groups[g].given_states &&
        !states_bounded(states[g] + first * H, (T - first) * H)) {
      b.method = Method::Ordered;
      b.cert = nullptr;
      ordered_used.store(true);
      if (!b.bits) std::copy(totals_before[g].begin(), totals_before[g].end(), groups[g].totals);
      readout_tile(b, *preps[g], 0, b.V, 0, T, nullptr, &cancel);
      if (cancel.load()) return false;
    }
    if (b.bits) add_bits_in_order(b, groups[g].totals);
  }
  if (ordered_used.load()) *method_used = Method::Ordered;
  if (fallbacks) *fallbacks += fb.load();
  return true;
}

}  // namespace satrnn
