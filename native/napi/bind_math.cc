// The glibc-exact math ports, exposed for cross-checking the TypeScript ports:
// mathF32(name, Float32Array), mathF64(name, Float64Array), checksumF32(name) -> Promise<hex>.
#include <cstdio>
#include <memory>

#include "math/glibc_double.h"
#include "math/glibc_float.h"
#if defined(__x86_64__)
#include "math/exp_avx2.h"
#include "math/exp_avx512.h"
#endif
#include "napi/args.h"
#include "napi/async.h"
#include "napi/bindings.h"

namespace satrnn::napi {
namespace {

// The float32 ports by name (shared by mathF32 and checksumF32).
float (*float_fn(Napi::Env env, const std::string& name))(float) {
  if (name == "tanhf") return gmath::tanhf;
  if (name == "expm1f") return gmath::expm1f;
  if (name == "expf") return gmath::expf;
  if (name == "logf") return gmath::logf;
  if (name == "cosf") return gmath::cosf;
  range_error(env, "unknown float function " + name);
}

template <typename T>
Napi::TypedArrayOf<T> input_array(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != kind<T>())
    type_error(info.Env(), usage);
  return info[1].As<Napi::TypedArrayOf<T>>();
}

Napi::Value MathF32(const Napi::CallbackInfo& info) {
  auto in = input_array<float>(info, "mathF32(name, Float32Array)");
  float (*f)(float) = float_fn(info.Env(), info[0].As<Napi::String>());
  auto out = Napi::Float32Array::New(info.Env(), in.ElementLength());
  for (size_t i = 0; i < in.ElementLength(); ++i) out[i] = f(in[i]);
  return out;
}

// The vector exps by name: the AVX2 exp (any argument) and the softmax exps, which take
// arguments in (-512, 0] only (their callers guarantee it; checked here).
struct VectorExp {
  const char* name;
  bool (*available)();
  void (*run)(const double*, double*, size_t);
  bool softmax;
};
const VectorExp kVectorExps[] = {
#if defined(__x86_64__)
    {"exp4_avx2", cpu_has_avx2, gmath::exp_array_avx2, false},
    {"exp_softmax_avx2", cpu_has_avx2, gmath::exp_nonpos_array_avx2, true},
#endif
#if SATRNN_HAVE_EXP_AVX512
    {"exp_softmax_avx512", cpu_has_avx512, gmath::exp_nonpos_array_avx512, true},
#endif
};

Napi::Value MathF64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto in = input_array<double>(info, "mathF64(name, Float64Array)");
  const std::string name = info[0].As<Napi::String>();
  const size_t n = in.ElementLength();
  auto out = Napi::Float64Array::New(env, n);
  if (name == "exp4_avx2" || name.rfind("exp_softmax_", 0) == 0) {
    for (const VectorExp& v : kVectorExps)
      if (name == v.name) {
        if (!v.available()) range_error(env, name + ": this CPU (or build) lacks its instructions");
        for (size_t i = 0; v.softmax && i < n; ++i)
          if (!(in[i] > -512.0 && in[i] <= 0.0)) range_error(env, name + " takes arguments in (-512, 0]");
        v.run(in.Data(), out.Data(), n);
        return out;
      }
    range_error(env, name + ": not in this build");
  }
  double (*f)(double) = nullptr;
  if (name == "exp") f = gmath::exp;
  else if (name == "log2") f = gmath::log2;
  else if (name == "log") f = gmath::log;
  else range_error(env, "unknown double function " + name);
  for (size_t i = 0; i < n; ++i) out[i] = f(in[i]);
  return out;
}

// checksumF32(name) -> Promise<hex string>: the 00-common §7b FNV checksum over all 2^32 inputs.
Napi::Value ChecksumF32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) type_error(env, "checksumF32(name)");
  float (*f)(float) = float_fn(env, info[0].As<Napi::String>());
  auto h = std::make_shared<uint64_t>(0);
  return Job::Start(
      env, JobIo{}, Napi::Function(), nullptr, [f, h](JobContext&) { *h = gmath::checksum_all_f32(f); },
      [h](Napi::Env e) {
        char buf[17];
        snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(*h));
        return Napi::String::New(e, buf);
      });
}

}  // namespace

void register_math(Napi::Env env, Napi::Object exports) {
  exports.Set("mathF32", Napi::Function::New(env, guarded<MathF32>));
  exports.Set("mathF64", Napi::Function::New(env, guarded<MathF64>));
  exports.Set("checksumF32", Napi::Function::New(env, guarded<ChecksumF32>));
}

}  // namespace satrnn::napi
