// info() -> what this build and CPU offer (lib/engine/native.ts reads it once).
#include <thread>

#include "core/cpu.h"
#include "kernels/train_fast.h"
#include "napi/args.h"
#include "napi/bindings.h"

namespace satrnn::napi {
namespace {
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
#if defined(__x86_64__)
  o.Set("avx2Compiled", true);
#else
  o.Set("avx2Compiled", false);
#endif
  o.Set("avx2", cpu_has_avx2());
  o.Set("avx512", cpu_has_avx512());
  o.Set("sse2", cpu_has_sse2());
  o.Set("fastTraining", fast_kernels_available());
  o.Set("hardwareThreads", static_cast<double>(std::thread::hardware_concurrency()));
  o.Set("napiVersion", NAPI_VERSION);
#if defined(__SANITIZE_ADDRESS__)
  o.Set("sanitized", true);
#else
  o.Set("sanitized", false);
#endif
  return o;
}
}  // namespace

void register_info(Napi::Env env, Napi::Object exports) { exports.Set("info", Napi::Function::New(env, guarded<Info>)); }

}  // namespace satrnn::napi
