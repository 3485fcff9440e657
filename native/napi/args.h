// Argument parsing for every binding, once: typed arrays of the right element type and
// length, integers and floats in range, options objects, the memory of async jobs (below).
// Every check runs on the main thread before a kernel touches memory (lib/ validates
// first, but the addon never trusts its caller). Errors are TypeError/RangeError "satrnn native: ..." which
// lib/engine/native.ts turns into SatrnnError BAD_OPTION.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/layout.h"
#include "core/parallel.h"
#include "napi/job_memory.h"

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

// Memory of async jobs. N-API can keep a typed array *object* alive (a reference) but not
// its memory: while a job runs, JS may detach the buffer (postMessage / structuredClone
// with transfer, ArrayBuffer.prototype.transfer) or shrink a resizable ArrayBuffer, and a
// detached backing store is freed at the next GC; there is no N-API call that pins a
// backing store, and napi_is_detached_arraybuffer only tells after the fact. So a job's
// kernels never touch JS memory:
//  - inputs are copied into job-owned memory here, on the main thread, during the call
//    (the same array passed twice, e.g. one model's weights in many groups, is copied once);
//  - outputs are written to job-owned memory, and in/out arrays start as copies of the JS
//    values; Job::OnOK (async.h, main thread) copies them back after checking that every
//    one of them is still attached with its length. If one is not, nothing is written back
//    and the promise rejects with a TypeError "an output buffer (<key>) was detached or
//    resized while the job ran" (lib/engine/native.ts: BAD_OPTION). A rejected or cancelled
//    job writes nothing back;
//  - arrays on a SharedArrayBuffer cannot be detached or shrunk and their memory lives as
//    long as the object, which a reference keeps: they are used in place (zero copies;
//    the caller then owns any race with its own threads). The cancel flag must be one.
// Values checked here (use codes, neuron modes, positions, select masks, patch neurons and
// values) are always read from private copies, so no JS write can break a checked
// invariant. Job memory comes from a pool (job_memory.h): copies cost memcpy speed, e.g.
// the weights at H = 128 (330 KB) ~30 us against milliseconds for the smallest chunk;
// outputs are copied back only where the kernels wrote them.

// How a job uses a typed array argument.
enum class Dir {
  In,       // read only: copied at the call (SharedArrayBuffer: used in place)
  Checked,  // read only and validated by the caller: always copied, also from shared memory
  InOut,    // read and written: copied at the call, copied back by Job::OnOK
  Out,      // written: job memory, copied back (within `part`) by Job::OnOK
};

// The elements of an array a copy covers: [lo, hi) (clipped to the length), and when `mask`
// is set only element i with mask[i % period] != 0.
struct Part {
  size_t lo = 0;
  size_t hi = SIZE_MAX;
  const uint8_t* mask = nullptr;
  size_t period = 0;
};

// What a job owns: copies of its inputs, its outputs (with the JS arrays they go back to)
// and references to the JS values it uses in place. Moved into the Job; main thread only,
// except that the kernels use the memory.
class JobIo {
 public:
  void pin(const Napi::Value& v) { refs_.push_back(Napi::Persistent(v)); }

  // Job memory for n elements (uninitialised).
  template <typename T>
  T* alloc(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    blocks_.emplace_back(n * sizeof(T));
    return reinterpret_cast<T*>(blocks_.back().data());
  }
  template <typename T>
  T* copy(const T* p, size_t n, Part part = {}) {
    T* q = alloc<T>(n);
    copy_part(q, p, n, part);
    return q;
  }
  // A copy of a whole input, shared with an earlier copy of the same memory.
  template <typename T>
  T* input(const T* p, size_t n) {
    for (const Copy& c : copies_)
      if (c.js == p && c.bytes == n * sizeof(T)) return static_cast<T*>(c.job);
    T* q = copy(p, n);
    copies_.push_back({p, n * sizeof(T), q});
    return q;
  }
  // `array` (n elements of type T) receives `job` within `part` when the job succeeds.
  template <typename T>
  void output(const Napi::Value& array, const char* key, T* job, size_t n, Part part) {
    outputs_.push_back({Napi::Persistent(array), key, kind<T>(), sizeof(T), job, n, part});
  }

  // Main thread, after the work: the key of an output that cannot be written back (its
  // array was detached, or resized to another length), or "" when all can.
  std::string lost_output(Napi::Env env) const {
    for (const Output& o : outputs_) {
      if (o.n == 0) continue;
      napi_typedarray_type type;
      size_t length = 0;
      void* data = nullptr;
      if (napi_get_typedarray_info(env, o.array.Value(), &type, &length, &data, nullptr, nullptr) != napi_ok || type != o.type ||
          length != o.n || data == nullptr)
        return o.key;
    }
    return "";
  }
  // Main thread, after lost_output() returned "": copies the outputs back.
  void write_back(Napi::Env env) const {
    for (const Output& o : outputs_) {
      if (o.n == 0) continue;
      void* data = nullptr;
      if (napi_get_typedarray_info(env, o.array.Value(), nullptr, nullptr, &data, nullptr, nullptr) != napi_ok || !data) continue;
      copy_bytes(static_cast<uint8_t*>(data), static_cast<const uint8_t*>(o.job), o.n, o.elem, o.part);
    }
  }

 private:
  template <typename T>
  static void copy_part(T* dst, const T* src, size_t n, const Part& part) {
    copy_bytes(reinterpret_cast<uint8_t*>(dst), reinterpret_cast<const uint8_t*>(src), n, sizeof(T), part);
  }
  static void copy_bytes(uint8_t* dst, const uint8_t* src, size_t n, size_t elem, const Part& part) {
    const size_t hi = part.hi < n ? part.hi : n;
    if (part.lo >= hi) return;
    if (!part.mask) {
      std::memcpy(dst + part.lo * elem, src + part.lo * elem, (hi - part.lo) * elem);
      return;
    }
    for (size_t i = part.lo; i < hi; ++i)
      if (part.mask[i % part.period]) std::memcpy(dst + i * elem, src + i * elem, elem);
  }

  struct Copy {
    const void* js;
    size_t bytes;
    void* job;
  };
  struct Output {
    Napi::Reference<Napi::Value> array;
    const char* key;
    napi_typedarray_type type;
    size_t elem;
    void* job;
    size_t n;
    Part part;
  };
  std::vector<Napi::Reference<Napi::Value>> refs_;
  std::vector<PooledBlock> blocks_;
  std::vector<Copy> copies_;
  std::vector<Output> outputs_;
};

// Whether a typed array lives on a SharedArrayBuffer (which cannot be detached or shrunk).
inline bool on_shared_memory(Napi::Env env, const Napi::Value& v) {
  napi_value buffer;
  bool is_array_buffer = true;
  if (napi_get_typedarray_info(env, v, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &is_array_buffer) != napi_ok)
    return false;
  return !is_array_buffer;  // a typed array's buffer is an ArrayBuffer or a SharedArrayBuffer
}

// The options object every entry point takes as its first argument.
inline Napi::Object options_arg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsObject()) type_error(info.Env(), std::string(fn) + " expects an options object");
  return info[0].As<Napi::Object>();
}

inline bool present(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

// A typed array of element type T; `len` (if not SIZE_MAX) is the required length. Returns
// the memory the job uses (see Dir); `part` is what an In copy covers (the rest is left
// uninitialised) or what an Out array gets back.
template <typename T>
T* typed(Napi::Env env, const Napi::Object& o, const char* key, JobIo& io, Dir dir, size_t len = SIZE_MAX, size_t* got = nullptr, Part part = {}) {
  const Napi::Value v = o.Get(key);
  if (!v.IsTypedArray()) type_error(env, std::string(key) + " must be a typed array");
  if (v.As<Napi::TypedArray>().TypedArrayType() != kind<T>()) type_error(env, std::string(key) + " has the wrong element type");
  auto a = v.As<Napi::TypedArrayOf<T>>();
  const size_t n = a.ElementLength();
  if (len != SIZE_MAX && n != len)
    range_error(env, std::string(key) + " has length " + std::to_string(n) + ", expected " + std::to_string(len));
  if (got) *got = n;
  const T* js = a.Data();
  if (dir == Dir::Checked) return io.copy(js, n);
  if (on_shared_memory(env, v)) {
    io.pin(v);
    return a.Data();
  }
  switch (dir) {
    case Dir::In: {
      // A prefix [0, hi) is copied into an array of hi elements (e.g. the bytes a chunk reads).
      const size_t m = part.hi < n ? part.hi : n;
      return part.lo == 0 && m == n && !part.mask ? io.input(js, n) : io.copy(js, m, part);
    }
    case Dir::InOut: {
      T* job = io.copy(js, n);
      io.output(v, key, job, n, Part{});
      return job;
    }
    default: {
      T* job = io.alloc<T>(n);
      io.output(v, key, job, n, part);
      return job;
    }
  }
}
// The same, or null when the key is absent.
template <typename T>
T* typed_opt(Napi::Env env, const Napi::Object& o, const char* key, JobIo& io, Dir dir, size_t len = SIZE_MAX, size_t* got = nullptr, Part part = {}) {
  return present(o, key) ? typed<T>(env, o, key, io, dir, len, got, part) : nullptr;
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

// Optional absolute positions `key` (a Float64Array of ascending, distinct, non-negative
// integers below 2^53, as JS numbers hold them exactly): job memory, and their count in *n;
// null (n = 0) when the key is absent. Read from a private copy, so the order holds.
inline uint64_t* get_positions(Napi::Env env, const Napi::Object& o, const char* key, JobIo& io, size_t* n) {
  *n = 0;
  const double* pos = typed_opt<double>(env, o, key, io, Dir::Checked, SIZE_MAX, n);
  if (!pos) return nullptr;
  uint64_t* p = io.alloc<uint64_t>(*n);
  for (size_t i = 0; i < *n; ++i) {
    if (!(pos[i] >= 0 && pos[i] == std::floor(pos[i]) && pos[i] < 9007199254740992.0) || (i > 0 && !(pos[i] > pos[i - 1])))
      range_error(env, std::string(key) + " must hold ascending non-negative integer positions");
    p[i] = static_cast<uint64_t>(pos[i]);
  }
  return p;
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

// isa: 0 scalar (portable), 1 avx2, 2 sse2, 3 avx512; it must be available here.
inline Isa get_isa(Napi::Env env, const Napi::Object& o) {
  const Isa isa = static_cast<Isa>(get_size(env, o, "isa", 0, 3));
  if (!isa_available(isa)) range_error(env, "the requested ISA is not available on this CPU/build");
  return isa;
}

inline size_t get_hidden(Napi::Env env, const Napi::Object& o) { return get_size(env, o, "hidden", 1, kMaxHidden); }

// `key`: the weights of a model with H hidden units (read only: Dir::In; trained: Dir::InOut).
inline float* get_weights(Napi::Env env, const Napi::Object& o, size_t H, JobIo& io, Dir dir, const char* key = "weights") {
  return typed<float>(env, o, key, io, dir, param_count(H));
}

// Optional cancellation flag: an Int32Array(1) on a SharedArrayBuffer that JS sets to
// non-zero with Atomics.store; the job's watcher thread reads it while the job runs, so it
// must be memory JS cannot detach (used in place, kept alive by a reference).
inline const int32_t* get_cancel(Napi::Env env, const Napi::Object& o, JobIo& io) {
  if (!present(o, "cancel")) return nullptr;
  const Napi::Value v = o.Get("cancel");
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !on_shared_memory(env, v))
    type_error(env, "cancel must be an Int32Array on a SharedArrayBuffer");
  size_t n = 0;
  const int32_t* c = typed<int32_t>(env, o, "cancel", io, Dir::In, SIZE_MAX, &n);
  if (n < 1) range_error(env, "cancel must have length 1");
  return c;
}

// Every binding is registered as guarded<F>: a C++ exception other than a Napi::Error
// (std::bad_alloc for a job's memory) becomes a JS error instead of terminating the
// process (node-addon-api rethrows only Napi::Error).
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    range_error(info.Env(), "not enough memory for the job's buffers");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("satrnn native: ") + e.what());
  }
}

inline Napi::Function get_callback(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() > i && info[i].IsFunction()) return info[i].As<Napi::Function>();
  if (info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull()) type_error(info.Env(), std::string(what) + " must be a function");
  return Napi::Function();
}

}  // namespace satrnn::napi
