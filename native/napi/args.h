// Argument parsing for every binding, once: typed arrays of the right element type and
// length, integers and floats in range, options objects, pinning. Every check runs on the
// main thread before a kernel touches memory (lib/ validates first, but the addon never
// trusts its caller). Errors are TypeError/RangeError "satrnn native: ..." which
// lib/engine/native.ts turns into SatrnnError BAD_OPTION.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/layout.h"
#include "core/parallel.h"

namespace satrnn::napi {

constexpr size_t kMaxHidden = 1u << 16;

[[noreturn]] inline void type_error(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, "satrnn native: " + msg);
}
[[noreturn]] inline void range_error(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, "satrnn native: " + msg);
}

template <typename T> constexpr napi_typedarray_type kind();
template <> constexpr napi_typedarray_type kind<float>() { return napi_float32_array; }
template <> constexpr napi_typedarray_type kind<double>() { return napi_float64_array; }
template <> constexpr napi_typedarray_type kind<uint8_t>() { return napi_uint8_array; }
template <> constexpr napi_typedarray_type kind<int32_t>() { return napi_int32_array; }
template <> constexpr napi_typedarray_type kind<uint32_t>() { return napi_uint32_array; }

// Keeps the JS values a worker reads alive until it settles.
struct Pins {
  std::vector<Napi::Reference<Napi::Value>> refs;
  void add(const Napi::Value& v) { refs.push_back(Napi::Persistent(v)); }
};

// The options object every entry point takes as its first argument.
inline Napi::Object options_arg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsObject()) type_error(info.Env(), std::string(fn) + " expects an options object");
  return info[0].As<Napi::Object>();
}

inline bool present(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

// A typed array of element type T; `len` (if not SIZE_MAX) is the required length. Pinned.
template <typename T>
T* typed(Napi::Env env, const Napi::Object& o, const char* key, Pins& pins, size_t len = SIZE_MAX, size_t* got = nullptr) {
  const Napi::Value v = o.Get(key);
  if (!v.IsTypedArray()) type_error(env, std::string(key) + " must be a typed array");
  if (v.As<Napi::TypedArray>().TypedArrayType() != kind<T>()) type_error(env, std::string(key) + " has the wrong element type");
  auto a = v.As<Napi::TypedArrayOf<T>>();
  if (len != SIZE_MAX && a.ElementLength() != len)
    range_error(env, std::string(key) + " has length " + std::to_string(a.ElementLength()) + ", expected " + std::to_string(len));
  if (got) *got = a.ElementLength();
  pins.add(v);
  return a.Data();
}
// The same, or null when the key is absent.
template <typename T>
T* typed_opt(Napi::Env env, const Napi::Object& o, const char* key, Pins& pins, size_t len = SIZE_MAX, size_t* got = nullptr) {
  return present(o, key) ? typed<T>(env, o, key, pins, len, got) : nullptr;
}

inline size_t get_size(Napi::Env env, const Napi::Object& o, const char* key, size_t lo, size_t hi) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) type_error(env, std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != std::floor(d))
    range_error(env, std::string(key) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<size_t>(d);
}

inline size_t get_size_or(Napi::Env env, const Napi::Object& o, const char* key, size_t lo, size_t hi, size_t dflt) {
  return present(o, key) ? get_size(env, o, key, lo, hi) : dflt;
}

// A finite number exactly representable as float32 (and > 0 when `positive`).
inline float get_float(Napi::Env env, const Napi::Object& o, const char* key, bool positive) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) type_error(env, std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  const float f = static_cast<float>(d);
  if (!std::isfinite(d) || static_cast<double>(f) != d || (positive && !(f > 0.0f)))
    range_error(env, std::string(key) + " must be a finite float32 value" + (positive ? " > 0" : ""));
  return f;
}

// isa: 0 scalar (portable), 1 avx2, 2 sse2; it must be available here.
inline Isa get_isa(Napi::Env env, const Napi::Object& o) {
  const Isa isa = static_cast<Isa>(get_size(env, o, "isa", 0, 2));
  if (!isa_available(isa)) range_error(env, "the requested ISA is not available on this CPU/build");
  return isa;
}

inline size_t get_hidden(Napi::Env env, const Napi::Object& o) { return get_size(env, o, "hidden", 1, kMaxHidden); }

// `key`: the weights of a model with H hidden units, pinned.
inline float* get_weights(Napi::Env env, const Napi::Object& o, size_t H, Pins& pins, const char* key = "weights") {
  return typed<float>(env, o, key, pins, param_count(H));
}

// Optional cancellation flag: an Int32Array(1), normally on a SharedArrayBuffer, that JS
// sets to non-zero with Atomics.store.
inline const int32_t* get_cancel(Napi::Env env, const Napi::Object& o, Pins& pins) {
  size_t n = 0;
  const int32_t* c = typed_opt<int32_t>(env, o, "cancel", pins, SIZE_MAX, &n);
  if (c && n < 1) range_error(env, "cancel must have length 1");
  return c;
}

inline Napi::Function get_callback(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() > i && info[i].IsFunction()) return info[i].As<Napi::Function>();
  if (info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull()) type_error(info.Env(), std::string(what) + " must be a function");
  return Napi::Function();
}

}  // namespace satrnn::napi
