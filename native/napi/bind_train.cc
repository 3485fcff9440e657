// Training bindings: trainEpoch, evalBpc (exact kernels on an ISA, or the fast kernels with
// a workspace) and createFastWorkspace.
#include <memory>

#include "kernels/train.h"
#include "kernels/train_fast.h"
#include "napi/args.h"
#include "napi/async.h"
#include "napi/bindings.h"

namespace satrnn::napi {
namespace {

// Marks externals that really hold a FastWorkspace, so no other object is ever cast to one.
const napi_type_tag kWorkspaceTag = {0x73617472726e6e66ull, 0x61737477736b7370ull};

// The fast (non-exact) trainer keeps scratch memory and a helper thread in a workspace that
// JS holds as an External across epochs; `fast: <workspace>` selects the fast kernels.
Napi::Value CreateFastWorkspace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!fast_kernels_available()) return env.Null();
  auto ext = Napi::External<FastWorkspace>::New(env, new FastWorkspace(), [](Napi::Env, FastWorkspace* ws) { delete ws; });
  ext.TypeTag(&kWorkspaceTag);
  return ext;
}

// weights + hidden + data (>= 2 bytes) + kernel choice of a training or evaluation call.
struct TrainCall {
  JobIo io;
  size_t H = 0;
  float* w = nullptr;
  const uint8_t* data = nullptr;
  size_t len = 0;
  Isa isa = Isa::Scalar;
  FastWorkspace* ws = nullptr;  // set: the fast kernels
  // Fast kernels only: 1 = the calling thread only; 0 = the kernel's choice (the helper
  // thread too when the text and H are large enough to pay for the hand-offs).
  int fast_threads = 0;
  const int32_t* cancel = nullptr;
};

// `weights_dir`: Dir::InOut for training (the job trains a copy; OnOK copies it back),
// Dir::In for evaluation.
TrainCall get_train_call(Napi::Env env, const Napi::Object& o, Dir weights_dir) {
  TrainCall c;
  c.H = get_hidden(env, o);
  c.w = get_weights(env, o, c.H, c.io, weights_dir);
  c.data = typed<uint8_t>(env, o, "data", c.io, Dir::In, SIZE_MAX, &c.len);
  if (c.len < 2) range_error(env, "data must hold at least 2 bytes");
  c.isa = get_isa(env, o);
  if (present(o, "fast")) {
    const Napi::Value v = o.Get("fast");
    if (!v.IsExternal() || !v.As<Napi::External<FastWorkspace>>().CheckTypeTag(&kWorkspaceTag))
      type_error(env, "fast must be a workspace from createFastWorkspace()");
    c.io.pin(v);
    c.ws = v.As<Napi::External<FastWorkspace>>().Data();
  }
  if (present(o, "threads")) c.fast_threads = get_size(env, o, "threads", 1, kMaxThreads) >= 2 ? 0 : 1;
  c.cancel = get_cancel(env, o, c.io);
  return c;
}

// trainEpoch({weights, hidden, data, lr, lrPeak, bptt, clip, isa, cancel?, fast?, threads?})
// -> Promise<train bpc>. Trains a copy of `weights` and copies it back into `weights` when
// the epoch completes (not when it is cancelled or fails).
Napi::Value TrainEpoch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "trainEpoch");
  auto c = std::make_shared<TrainCall>(get_train_call(env, o, Dir::InOut));
  TrainParams p;
  p.H = c->H;
  p.bptt = static_cast<int>(get_size(env, o, "bptt", 1, 1u << 20));
  p.lr_peak = get_float(env, o, "lrPeak", true);
  p.clip = get_float(env, o, "clip", true);
  const float lr = get_float(env, o, "lr", true);
  auto result = std::make_shared<double>(0.0);
  JobIo io = std::move(c->io);
  return Job::Start(
      env, std::move(io), Napi::Function(), c->cancel,
      [c, p, lr, result](JobContext& ctx) {
        *result = c->ws ? train_epoch_fast_threads(c->w, c->data, c->len, lr, p, *c->ws, c->fast_threads, &ctx.cancel)
                        : train_epoch(c->w, c->data, c->len, lr, p, c->isa, &ctx.cancel);
      },
      [result](Napi::Env e) { return Napi::Number::New(e, *result); });
}

// evalBpc({weights, hidden, data, isa, fast?, threads?}) -> Promise<bpc>: the trainer's float evaluation.
Napi::Value EvalBpc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "evalBpc");
  auto c = std::make_shared<TrainCall>(get_train_call(env, o, Dir::In));
  auto result = std::make_shared<double>(0.0);
  JobIo io = std::move(c->io);
  return Job::Start(
      env, std::move(io), Napi::Function(), c->cancel,
      [c, result](JobContext&) {
        *result = c->ws ? eval_bpc_fast_threads(c->w, c->H, c->data, c->len, *c->ws, c->fast_threads)
                        : eval_bpc(c->w, c->H, c->data, c->len, c->isa);
      },
      [result](Napi::Env e) { return Napi::Number::New(e, *result); });
}

}  // namespace

void register_train(Napi::Env env, Napi::Object exports) {
  exports.Set("trainEpoch", Napi::Function::New(env, guarded<TrainEpoch>));
  exports.Set("evalBpc", Napi::Function::New(env, guarded<EvalBpc>));
  exports.Set("createFastWorkspace", Napi::Function::New(env, guarded<CreateFastWorkspace>));
}

}  // namespace satrnn::napi
