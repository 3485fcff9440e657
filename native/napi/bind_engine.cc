// The engine's one native call: run({hidden, isa, method, threads, cancel?, bytes, pos0,
// steps, groups: [...]}, onProgress?) -> Promise<{certified: boolean, fallbacks, work}>.
// Each group is one variant of the dynamics (weights with edits applied, interventions,
// input substitutions; or given states) plus the readout variants read from it, for one
// chunk of positions. lib/engine/native.ts lowers the dynamics, readout and evaluate
// requests onto it; the field names are those of lib/engine/types.ts.
#include <memory>
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
  std::vector<std::unique_ptr<std::vector<uint64_t>>> subst_pos;
  Method used = Method::Certified;
  uint64_t fallbacks = 0;
  size_t work = 0;  // progress units of the chunk (dynamics steps + readout predictions)
};

void parse_group(Napi::Env env, const Napi::Object& g, RunState& s, Pins& pins, bool* reads_out) {
  const size_t H = s.chunk.H, T = s.chunk.T;
  EvalGroup e;
  e.dyn.weights = get_weights(env, g, H, pins);
  e.given_states = typed_opt<float>(env, g, "states", pins, T * H);
  if (!e.given_states) {
    e.state = typed<float>(env, g, "state", pins, H);
    e.steps_before = get_size_or(env, g, "stepsBefore", 0, uint64_t{1} << 52, 0);
    e.dyn.mode = typed_opt<uint8_t>(env, g, "mode", pins, H);
    if (e.dyn.mode) {
      for (size_t j = 0; j < H; ++j)
        if (e.dyn.mode[j] > kNeuronSign) range_error(env, "mode values must be 0 (free), 1 (clamp) or 2 (sign)");
      e.dyn.value = typed<float>(env, g, "value", pins, H);
    }
    size_t ns = 0;
    const double* pos = typed_opt<double>(env, g, "substPos", pins, SIZE_MAX, &ns);
    if (pos) {
      e.dyn.subst_byte = typed<uint8_t>(env, g, "substByte", pins, ns);
      auto owned = std::make_unique<std::vector<uint64_t>>(ns);
      for (size_t i = 0; i < ns; ++i) {
        if (!(pos[i] >= 0 && pos[i] == std::floor(pos[i]) && pos[i] < 9007199254740992.0) || (i > 0 && !(pos[i] > pos[i - 1])))
          range_error(env, "substPos must hold ascending non-negative integer positions");
        (*owned)[i] = static_cast<uint64_t>(pos[i]);
      }
      e.dyn.subst_pos = owned->data();
      e.dyn.n_subst = ns;
      s.subst_pos.push_back(std::move(owned));
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
    e.states_out = typed_opt<float>(env, g, "statesOut", pins, T * H);
    e.pre_out = typed_opt<float>(env, g, "preOut", pins, T * H);
  }
  size_t nuse = 0;
  e.use = typed_opt<uint8_t>(env, g, "use", pins, SIZE_MAX, &nuse);
  if (e.use) {
    if (nuse % H != 0) range_error(env, "use length must be a multiple of hidden");
    e.V = nuse / H;
    for (size_t i = 0; i < nuse; ++i)
      if (e.use[i] > kNegated) range_error(env, "use values must be 0 (absent), 1 (value), 2 (sign) or 3 (negated)");
    e.totals = typed<double>(env, g, "totals", pins, e.V);
    e.bits_out = typed_opt<double>(env, g, "bitsOut", pins, e.V * T);
    e.select = typed_opt<uint8_t>(env, g, "select", pins, T);
    e.probs_out = typed_opt<double>(env, g, "probsOut", pins, e.V * selected_positions(s.chunk, e) * kVocab);
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
