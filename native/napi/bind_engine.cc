// The engine's one native call: run({hidden, isa, method, threads, cancel?, bytes, pos0,
// steps, groups: [...]}, onProgress?) -> Promise<{certified: boolean, fallbacks, work}>.
// Each group is one variant of the dynamics (weights with edits applied, interventions,
// input substitutions, activation patches; or given states) plus the readout variants read
// from it, for one chunk of positions. lib/engine/native.ts lowers the dynamics, readout and
// evaluate requests onto it; the field names are those of lib/engine/types.ts.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "kernels/evaluate.h"
#include "napi/args.h"
#include "napi/async.h"
#include "napi/bindings.h"

namespace satrnn::napi {
namespace {

// Owned by the job: the parsed groups and their statistics views. Every pointer in them
// is job memory (the JobIo moved into the Job; args.h "Memory of async jobs"); the inputs
// whose values were validated here (use codes, neuron modes and values, select masks,
// substitution and patch positions, patch neurons and values) are private copies
// (Dir::Checked), so JS changing its arrays while the job runs cannot break a checked
// invariant.
struct RunState {
  EvalChunk chunk{};
  std::vector<EvalGroup> groups;
  std::vector<std::unique_ptr<TrajectoryStats>> stats;
  Method used = Method::Certified;
  uint64_t fallbacks = 0;
  size_t work = 0;  // progress units of the chunk (dynamics steps + readout predictions)
};

constexpr const char* kBytesMessage = "bytes must hold steps bytes, plus the next one (the last target) when a group has readout variants";

// a * b, or a RangeError when it does not fit (lengths are checked with it, never wrapped).
size_t checked_mul(Napi::Env env, size_t a, size_t b, const char* what) {
  size_t r;
  if (__builtin_mul_overflow(a, b, &r)) range_error(env, std::string(what) + " is too large");
  return r;
}

// Activation patches (patchPos, patchNeurons, patchValues: all three or none). The kernel
// writes h[patchNeurons[k]] at every patch position, so the neurons are checked (< H) on a
// private copy; the values too (finite), and the positions (ascending) by get_positions.
void parse_patch(Napi::Env env, const Napi::Object& g, size_t H, JobIo& io, DynamicsVariant& d) {
  if (!present(g, "patchPos") && !present(g, "patchNeurons") && !present(g, "patchValues")) return;
  d.patch_pos = get_positions(env, g, "patchPos", io, &d.n_patch_pos);
  if (!d.patch_pos) type_error(env, "patchPos must be a typed array (patchNeurons and patchValues come with it)");
  const uint32_t* neurons = typed<uint32_t>(env, g, "patchNeurons", io, Dir::Checked, SIZE_MAX, &d.n_patch_neurons);
  std::vector<uint8_t> seen(H, 0);
  for (size_t k = 0; k < d.n_patch_neurons; ++k) {
    if (neurons[k] >= H) range_error(env, "patchNeurons must hold neuron indices below hidden");
    if (seen[neurons[k]]++) range_error(env, "patchNeurons must hold distinct neuron indices");
  }
  d.patch_neuron = neurons;
  const float* values = typed<float>(env, g, "patchValues", io, Dir::Checked, checked_mul(env, d.n_patch_pos, d.n_patch_neurons, "patchValues length"));
  for (size_t i = 0; i < d.n_patch_pos * d.n_patch_neurons; ++i)
    if (!std::isfinite(values[i])) range_error(env, "patchValues must be finite");
  d.patch_value = values;
}

void parse_group(Napi::Env env, const Napi::Object& g, RunState& s, JobIo& io, bool* reads_out) {
  const size_t H = s.chunk.H, T = s.chunk.T;
  const size_t TH = checked_mul(env, T, H, "steps * hidden");
  EvalGroup e;
  e.dyn.weights = get_weights(env, g, H, io, Dir::In);
  e.given_states = typed_opt<float>(env, g, "states", io, Dir::In, TH);
  if (e.given_states && (present(g, "from") || present(g, "prefix"))) range_error(env, "from and prefix apply to groups with dynamics, not to given states");
  if (!e.given_states) {
    e.state = typed<float>(env, g, "state", io, Dir::InOut, H);
    e.steps_before = get_size_or(env, g, "stepsBefore", 0, uint64_t{1} << 52, 0);
    const uint8_t* mode = typed_opt<uint8_t>(env, g, "mode", io, Dir::Checked, H);
    if (mode) {
      for (size_t j = 0; j < H; ++j)
        if (mode[j] > kNeuronSign) range_error(env, "mode values must be 0 (free), 1 (clamp) or 2 (sign)");
      e.dyn.mode = mode;
      e.dyn.value = typed<float>(env, g, "value", io, Dir::Checked, H);
    }
    e.dyn.subst_pos = get_positions(env, g, "substPos", io, &e.dyn.n_subst);
    if (e.dyn.subst_pos) e.dyn.subst_byte = typed<uint8_t>(env, g, "substByte", io, Dir::In, e.dyn.n_subst);
    parse_patch(env, g, H, io, e.dyn);
    if (present(g, "stats")) {
      const Napi::Value sv = g.Get("stats");
      if (!sv.IsObject()) type_error(env, "stats must be an object");
      const Napi::Object so = sv.As<Napi::Object>();
      auto st = std::make_unique<TrajectoryStats>();
      st->sum = typed<double>(env, so, "sum", io, Dir::InOut, H);
      st->sum_abs = typed<double>(env, so, "sumAbs", io, Dir::InOut, H);
      st->sum_abs_f32 = typed<float>(env, so, "sumAbsF32", io, Dir::InOut, H);
      st->min_abs = typed<float>(env, so, "minAbs", io, Dir::InOut, H);
      st->saturated = typed<uint32_t>(env, so, "saturated", io, Dir::InOut, H);
      st->flips = typed<uint32_t>(env, so, "flips", io, Dir::InOut, H);
      st->last_sign = typed<uint8_t>(env, so, "lastSign", io, Dir::InOut, H);
      e.stats = st.get();
      s.stats.push_back(std::move(st));
    }
    e.from = get_size_or(env, g, "from", 0, T, 0);
    e.prefix = typed_opt<float>(env, g, "prefix", io, Dir::In, e.from * H);
    // Rows the kernels write: from `from` on (with a prefix, from 0: it is copied in first).
    e.states_out = typed_opt<float>(env, g, "statesOut", io, Dir::Out, TH, nullptr, Part{e.prefix ? 0 : e.from * H});
    e.pre_out = typed_opt<float>(env, g, "preOut", io, Dir::Out, TH, nullptr, Part{e.from * H});
  }
  size_t nuse = 0;
  const uint8_t* use = typed_opt<uint8_t>(env, g, "use", io, Dir::Checked, SIZE_MAX, &nuse);
  if (use) {
    if (nuse % H != 0) range_error(env, "use length must be a multiple of hidden");
    e.V = nuse / H;
    bool fixed = false;
    for (size_t i = 0; i < nuse; ++i) {
      if (use[i] > kFixed) range_error(env, "use values must be 0 (absent), 1 (value), 2 (sign), 3 (negated) or 4 (fixed)");
      fixed = fixed || use[i] == kFixed;
    }
    e.use = use;
    // The values read where a code is kFixed: a private copy, checked finite (the kernel
    // multiplies them into logits; a NaN would make every prediction silently hit the floor).
    const float* values = typed_opt<float>(env, g, "useValues", io, Dir::Checked, nuse);
    if (fixed && !values) type_error(env, "useValues is required when a use code is 4 (fixed)");
    if (values)
      for (size_t i = 0; i < nuse; ++i)
        if (!std::isfinite(values[i])) range_error(env, "useValues must be finite");
    e.use_values = values;
    e.totals = typed<double>(env, g, "totals", io, Dir::InOut, e.V);
    e.select = typed_opt<uint8_t>(env, g, "select", io, Dir::Checked, T);
    // Bits are written at the positions read out only (from the first with states, where
    // `select` says so): the other entries of the caller's array stay as they were.
    Part bits_part;
    const size_t first = e.prefix ? 0 : e.from;
    if ((first > 0 || e.select) && present(g, "bitsOut")) {
      uint8_t* mask = io.alloc<uint8_t>(T);
      for (size_t t = 0; t < T; ++t) mask[t] = t >= first && (!e.select || e.select[t]);
      bits_part.mask = mask;
      bits_part.period = T;
    }
    e.bits_out = typed_opt<double>(env, g, "bitsOut", io, Dir::Out, checked_mul(env, e.V, T, "variants * steps"), nullptr, bits_part);
    const size_t rows = checked_mul(env, checked_mul(env, e.V, selected_positions(s.chunk, e), "probability rows"), kVocab, "probability rows");
    e.probs_out = typed_opt<double>(env, g, "probsOut", io, Dir::Out, rows);
    if (e.V > 0) *reads_out = true;
  }
  s.groups.push_back(e);
}

Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "run");
  JobIo io;
  auto s = std::make_shared<RunState>();
  EvalChunk& c = s->chunk;
  c.H = get_hidden(env, o);
  c.isa = get_isa(env, o);
  c.method = static_cast<Method>(get_size(env, o, "method", 0, 1));
  c.threads = static_cast<unsigned>(get_size(env, o, "threads", 1, kMaxThreads));
  c.T = get_size(env, o, "steps", 0, uint64_t{1} << 40);
  c.pos0 = get_size(env, o, "pos0", 0, uint64_t{1} << 52);
  const int32_t* cancel = get_cancel(env, o, io);
  size_t nbytes = 0;
  // The kernels read bytes[0 .. steps] at most: only those are copied.
  c.bytes = typed<uint8_t>(env, o, "bytes", io, Dir::In, SIZE_MAX, &nbytes, Part{0, c.T + 1});
  // Checked before the groups, whose step-sized masks and loops it bounds.
  if (nbytes < c.T) range_error(env, kBytesMessage);
  const Napi::Value gv = o.Get("groups");
  if (!gv.IsArray()) type_error(env, "groups must be an array");
  const Napi::Array ga = gv.As<Napi::Array>();
  bool reads_out = false;
  for (uint32_t i = 0; i < ga.Length(); ++i) {
    const Napi::Value g = ga.Get(i);
    if (!g.IsObject()) type_error(env, "each group must be an object");
    parse_group(env, g.As<Napi::Object>(), *s, io, &reads_out);
  }
  if (nbytes < c.T + (reads_out ? 1 : 0))
    range_error(env, kBytesMessage);
  Napi::Function cb = get_callback(info, 1, "onProgress");
  return Job::Start(
      env, std::move(io), cb, cancel,
      [s](JobContext& ctx) {
        s->work = evaluate_work(s->chunk, s->groups);
        ctx.total.store(s->work);
        evaluate_chunk(s->chunk, s->groups, &ctx.done, ctx.cancel, &s->used, &s->fallbacks);
      },
      [s](Napi::Env e) {
        auto r = Napi::Object::New(e);
        r.Set("certified", s->used == Method::Certified);
        r.Set("fallbacks", static_cast<double>(s->fallbacks));
        r.Set("work", static_cast<double>(s->work));
        return r;
      });
}

// readoutStats(Wy: Float32Array, by: Float32Array) -> { wyNorms, maxAbs, subnormal }, with
// H = Wy.length / 256 (synchronous: one pass over the readout weights).
Napi::Value ReadoutStatsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "readoutStats(Wy: Float32Array of 256*H, by: Float32Array of 256)";
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) type_error(env, usage);
  const auto wy = info[0].As<Napi::TypedArray>(), by = info[1].As<Napi::TypedArray>();
  if (wy.TypedArrayType() != napi_float32_array || by.TypedArrayType() != napi_float32_array) type_error(env, usage);
  const size_t n = wy.ElementLength();
  if (n == 0 || n % kVocab != 0 || by.ElementLength() != static_cast<size_t>(kVocab)) range_error(env, usage);
  const size_t H = n / kVocab;
  auto norms = Napi::Float64Array::New(env, H);
  const ReadoutStats s = readout_stats(wy.As<Napi::Float32Array>().Data(), by.As<Napi::Float32Array>().Data(), H, norms.Data());
  auto r = Napi::Object::New(env);
  r.Set("wyNorms", norms);
  r.Set("maxAbs", s.max_abs);
  r.Set("subnormal", static_cast<double>(s.subnormal));
  return r;
}

}  // namespace

void register_engine(Napi::Env env, Napi::Object exports) {
  exports.Set("run", Napi::Function::New(env, guarded<Run>));
  exports.Set("readoutStats", Napi::Function::New(env, guarded<ReadoutStatsOf>));
}

}  // namespace satrnn::napi
