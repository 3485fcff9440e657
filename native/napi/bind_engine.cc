// The engine's one native call: run({hidden, isa, method, threads, cancel?, bytes, pos0,
// steps, groups: [...]}, onProgress?) -> Promise<{certified: boolean, fallbacks, work}>.
// Each group is one variant of the dynamics (weights with edits applied, interventions,
// input substitutions; or given states) plus the readout variants read from it, for one
// chunk of positions. lib/engine/native.ts lowers the dynamics, readout and evaluate
// requests onto it; the field names are those of lib/engine/types.ts.
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

// Owned by the job: the parsed groups and their statistics views.
struct RunState {
  EvalChunk chunk{};
  std::vector<EvalGroup> groups;
  std::vector<std::unique_ptr<TrajectoryStats>> stats;
  // Copies of the small inputs whose values were validated here (use codes, neuron modes
  // and values, position masks, substitution positions): the kernels read these copies,
  // so JS changing its arrays while the job runs cannot break a checked invariant.
  std::vector<std::shared_ptr<void>> owned;
  template <typename T>
  T* own(const T* p, size_t n) {
    auto v = std::make_shared<std::vector<T>>(p, p + n);
    owned.push_back(v);
    return v->data();
  }
  Method used = Method::Certified;
  uint64_t fallbacks = 0;
  size_t work = 0;  // progress units of the chunk (dynamics steps + readout predictions)
};

// a * b, or a RangeError when it does not fit (lengths are checked with it, never wrapped).
size_t checked_mul(Napi::Env env, size_t a, size_t b, const char* what) {
  size_t r;
  if (__builtin_mul_overflow(a, b, &r)) range_error(env, std::string(what) + " is too large");
  return r;
}

void parse_group(Napi::Env env, const Napi::Object& g, RunState& s, Pins& pins, bool* reads_out) {
  const size_t H = s.chunk.H, T = s.chunk.T;
  const size_t TH = checked_mul(env, T, H, "steps * hidden");
  EvalGroup e;
  e.dyn.weights = get_weights(env, g, H, pins);
  e.given_states = typed_opt<float>(env, g, "states", pins, TH);
  if (e.given_states && (present(g, "from") || present(g, "prefix"))) range_error(env, "from and prefix apply to groups with dynamics, not to given states");
  if (!e.given_states) {
    e.state = typed<float>(env, g, "state", pins, H);
    e.steps_before = get_size_or(env, g, "stepsBefore", 0, uint64_t{1} << 52, 0);
    const uint8_t* mode = typed_opt<uint8_t>(env, g, "mode", pins, H);
    if (mode) {
      uint8_t* m = s.own(mode, H);
      for (size_t j = 0; j < H; ++j)
        if (m[j] > kNeuronSign) range_error(env, "mode values must be 0 (free), 1 (clamp) or 2 (sign)");
      e.dyn.mode = m;
      e.dyn.value = s.own(typed<float>(env, g, "value", pins, H), H);
    }
    size_t ns = 0;
    const double* pos = typed_opt<double>(env, g, "substPos", pins, SIZE_MAX, &ns);
    if (pos) {
      e.dyn.subst_byte = s.own(typed<uint8_t>(env, g, "substByte", pins, ns), ns);
      std::vector<uint64_t> p(ns);
      for (size_t i = 0; i < ns; ++i) {
        if (!(pos[i] >= 0 && pos[i] == std::floor(pos[i]) && pos[i] < 9007199254740992.0) || (i > 0 && !(pos[i] > pos[i - 1])))
          range_error(env, "substPos must hold ascending non-negative integer positions");
        p[i] = static_cast<uint64_t>(pos[i]);
      }
      e.dyn.subst_pos = s.own(p.data(), ns);
      e.dyn.n_subst = ns;
    }
    if (present(g, "stats")) {
      const Napi::Value sv = g.Get("stats");
      if (!sv.IsObject()) type_error(env, "stats must be an object");
      const Napi::Object so = sv.As<Napi::Object>();
      auto st = std::make_unique<TrajectoryStats>();
      st->sum_abs = typed<double>(env, so, "sumAbs", pins, H);
      st->sum_abs_f32 = typed<float>(env, so, "sumAbsF32", pins, H);
      st->min_abs = typed<float>(env, so, "minAbs", pins, H);
      st->saturated = typed<uint32_t>(env, so, "saturated", pins, H);
      st->flips = typed<uint32_t>(env, so, "flips", pins, H);
      st->last_sign = typed<uint8_t>(env, so, "lastSign", pins, H);
      e.stats = st.get();
      s.stats.push_back(std::move(st));
    }
    e.from = get_size_or(env, g, "from", 0, T, 0);
    e.prefix = typed_opt<float>(env, g, "prefix", pins, e.from * H);
    e.states_out = typed_opt<float>(env, g, "statesOut", pins, TH);
    e.pre_out = typed_opt<float>(env, g, "preOut", pins, TH);
  }
  size_t nuse = 0;
  const uint8_t* use = typed_opt<uint8_t>(env, g, "use", pins, SIZE_MAX, &nuse);
  if (use) {
    if (nuse % H != 0) range_error(env, "use length must be a multiple of hidden");
    e.V = nuse / H;
    uint8_t* u = s.own(use, nuse);
    for (size_t i = 0; i < nuse; ++i)
      if (u[i] > kNegated) range_error(env, "use values must be 0 (absent), 1 (value), 2 (sign) or 3 (negated)");
    e.use = u;
    e.totals = typed<double>(env, g, "totals", pins, e.V);
    e.bits_out = typed_opt<double>(env, g, "bitsOut", pins, checked_mul(env, e.V, T, "variants * steps"));
    const uint8_t* select = typed_opt<uint8_t>(env, g, "select", pins, T);
    if (select) e.select = s.own(select, T);
    const size_t rows = checked_mul(env, checked_mul(env, e.V, selected_positions(s.chunk, e), "probability rows"), kVocab, "probability rows");
    e.probs_out = typed_opt<double>(env, g, "probsOut", pins, rows);
    if (e.V > 0) *reads_out = true;
  }
  s.groups.push_back(e);
}

Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "run");
  Pins pins;
  auto s = std::make_shared<RunState>();
  EvalChunk& c = s->chunk;
  c.H = get_hidden(env, o);
  c.isa = get_isa(env, o);
  c.method = static_cast<Method>(get_size(env, o, "method", 0, 1));
  c.threads = static_cast<unsigned>(get_size(env, o, "threads", 1, kMaxThreads));
  c.T = get_size(env, o, "steps", 0, uint64_t{1} << 40);
  c.pos0 = get_size(env, o, "pos0", 0, uint64_t{1} << 52);
  const int32_t* cancel = get_cancel(env, o, pins);
  size_t nbytes = 0;
  c.bytes = typed<uint8_t>(env, o, "bytes", pins, SIZE_MAX, &nbytes);
  const Napi::Value gv = o.Get("groups");
  if (!gv.IsArray()) type_error(env, "groups must be an array");
  const Napi::Array ga = gv.As<Napi::Array>();
  bool reads_out = false;
  for (uint32_t i = 0; i < ga.Length(); ++i) {
    const Napi::Value g = ga.Get(i);
    if (!g.IsObject()) type_error(env, "each group must be an object");
    parse_group(env, g.As<Napi::Object>(), *s, pins, &reads_out);
  }
  if (nbytes < c.T + (reads_out ? 1 : 0))
    range_error(env, "bytes must hold steps bytes, plus the next one (the last target) when a group has readout variants");
  Napi::Function cb = get_callback(info, 1, "onProgress");
  return Job::Start(
      env, std::move(pins), cb, cancel,
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

}  // namespace

void register_engine(Napi::Env env, Napi::Object exports) { exports.Set("run", Napi::Function::New(env, Run)); }

}  // namespace satrnn::napi
