// N-API surface. Every argument is checked here (type, length, range) before any kernel
// touches memory, even though lib/ validates first: the addon must never trust its caller.
// Heavy calls run in AsyncProgressWorkers on a pool of std::threads and settle a Promise.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cpu.h"
#include "math/glibc_double.h"
#include "math/glibc_float.h"
#include "math/exp_avx2.h"
#include "model_layout.h"
#include "readout.h"
#include "train.h"
#include "train_fast.h"
#include "trajectory.h"

namespace {

using satrnn::Isa;

constexpr size_t kMaxHidden = 1u << 16;
constexpr unsigned kMaxThreads = 256;

[[noreturn]] void type_error(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, "satrnn native: " + msg);
}
[[noreturn]] void range_error(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, "satrnn native: " + msg);
}

template <typename T> constexpr napi_typedarray_type kind();
template <> constexpr napi_typedarray_type kind<float>() { return napi_float32_array; }
template <> constexpr napi_typedarray_type kind<double>() { return napi_float64_array; }
template <> constexpr napi_typedarray_type kind<uint8_t>() { return napi_uint8_array; }
template <> constexpr napi_typedarray_type kind<int32_t>() { return napi_int32_array; }

template <typename T>
Napi::TypedArrayOf<T> typed(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray()) type_error(env, std::string(name) + " must be a typed array");
  if (v.As<Napi::TypedArray>().TypedArrayType() != kind<T>())
    type_error(env, std::string(name) + " has the wrong element type");
  return v.As<Napi::TypedArrayOf<T>>();
}

size_t get_size(Napi::Env env, const Napi::Object& o, const char* key, size_t lo, size_t hi) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) type_error(env, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != static_cast<double>(static_cast<size_t>(d)))
    range_error(env, std::string(key) + " must be an integer in [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "]");
  return static_cast<size_t>(d);
}

// Threads for the fast trainer: optional "threads"; 1 = the calling thread only, otherwise
// (2+ or absent) 0 = the kernel's choice: the helper thread too when this process may run
// on 2+ CPUs and the text and H are large enough to pay for the hand-offs.
int get_fast_threads(Napi::Env env, const Napi::Object& o) {
  if (!o.Has("threads") || o.Get("threads").IsUndefined()) return 0;
  return get_size(env, o, "threads", 1, kMaxThreads) >= 2 ? 0 : 1;
}

Isa get_isa(Napi::Env env, const Napi::Object& o) {
  size_t isa = get_size(env, o, "isa", 0, 1);
  if (isa == 1 && !satrnn::cpu_has_avx2()) range_error(env, "isa avx2 requested but this CPU/build has no AVX2");
  return static_cast<Isa>(isa);
}

Napi::Float32Array get_weights(Napi::Env env, const Napi::Object& o, size_t* H) {
  *H = get_size(env, o, "hidden", 1, kMaxHidden);
  auto w = typed<float>(env, o.Get("weights"), "weights");
  if (w.ElementLength() != satrnn::param_count(*H))
    range_error(env, "weights length " + std::to_string(w.ElementLength()) + " does not match hidden=" +
                         std::to_string(*H) + " (expected " + std::to_string(satrnn::param_count(*H)) + ")");
  return w;
}

// The single options object every entry point takes.
Napi::Object options_arg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsObject()) type_error(info.Env(), std::string(fn) + " expects an options object");
  return info[0].As<Napi::Object>();
}

// Keeps the JS arrays a worker reads alive until it settles.
struct Pins {
  std::vector<Napi::Reference<Napi::Value>> refs;
  void add(const Napi::Value& v) { refs.push_back(Napi::Persistent(v)); }
};

// Optional cancellation flag: an Int32Array(1), normally on a SharedArrayBuffer, that JS
// sets to non-zero with Atomics.store; workers poll it between variants.
const int32_t* get_cancel(Napi::Env env, const Napi::Object& o, Pins& pins) {
  Napi::Value v = o.Get("cancel");
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  auto c = typed<int32_t>(env, v, "cancel");
  if (c.ElementLength() < 1) range_error(env, "cancel must have length 1");
  pins.add(v);
  return c.Data();
}

// A Promise-settling worker around two closures: `work` runs off the main thread, `done`
// builds the resolved value on it. Pins keep the JS arrays `work` reads alive.
class TaskWorker : public Napi::AsyncWorker {
 public:
  TaskWorker(Napi::Env env, Pins pins, std::function<void()> work, std::function<Napi::Value(Napi::Env)> done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), pins_(std::move(pins)),
        work_(std::move(work)), done_(std::move(done)) {}
  static Napi::Promise Start(Napi::Env env, Pins pins, std::function<void()> work,
                             std::function<Napi::Value(Napi::Env)> done) {
    auto* w = new TaskWorker(env, std::move(pins), std::move(work), std::move(done));
    auto p = w->deferred_.Promise();
    w->Queue();
    return p;
  }
  // Kernels may throw (std::bad_alloc, a misused workspace); an exception must never
  // escape a worker thread, so it becomes a rejected promise.
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(std::string("satrnn native: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(done_(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Pins pins_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> done_;
};

// forward({weights, hidden, bytes, h0?, isa}) -> Promise<Float32Array [steps*H]>
Napi::Value Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "forward");
  Pins pins;
  size_t H;
  auto w = get_weights(env, o, &H);
  pins.add(w);
  auto bytes = typed<uint8_t>(env, o.Get("bytes"), "bytes");
  pins.add(bytes);
  const float* h0 = nullptr;
  Napi::Value h0v = o.Get("h0");
  if (!h0v.IsUndefined() && !h0v.IsNull()) {
    auto a = typed<float>(env, h0v, "h0");
    if (a.ElementLength() != H) range_error(env, "h0 length must equal hidden");
    pins.add(a);
    h0 = a.Data();
  }
  Isa isa = get_isa(env, o);
  const float* wp = w.Data();
  const uint8_t* bp = bytes.Data();
  const size_t steps = bytes.ElementLength();
  auto out = std::make_shared<std::vector<float>>(steps * H);
  return TaskWorker::Start(
      env, std::move(pins),
      [=]() { satrnn::forward(satrnn::ModelView(wp, H), bp, steps, h0, out->data(), isa); },
      [out](Napi::Env e) {
        auto arr = Napi::Float32Array::New(e, out->size());
        if (!out->empty()) std::memcpy(arr.Data(), out->data(), out->size() * sizeof(float));
        return arr;
      });
}

class ReadoutWorker : public Napi::AsyncProgressWorker<size_t> {
 public:
  ReadoutWorker(Napi::Env env, Napi::Function progress_cb, Pins pins, satrnn::ReadoutBatch batch, const float* w, size_t H, Isa isa, unsigned threads,
                const int32_t* cancel, bool want_bits)
      : Napi::AsyncProgressWorker<size_t>(progress_cb.IsEmpty() ? Napi::Function::New(env, [](const Napi::CallbackInfo&) {})
                                                                : progress_cb),
        deferred_(Napi::Promise::Deferred::New(env)), pins_(std::move(pins)), batch_(batch),
        model_(w, H), isa_(isa), threads_(threads), cancel_ptr_(cancel), want_bits_(want_bits),
        has_progress_(!progress_cb.IsEmpty()) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute(const ExecutionProgress& progress) override {
    mean_.assign(batch_.V, 0.0);
    if (want_bits_) bits_.assign(batch_.V * batch_.T, 0.0);
    batch_.model = &model_;
    batch_.mean_bits = mean_.data();
    batch_.bits = want_bits_ ? bits_.data() : nullptr;
    batch_.fallbacks = &fallbacks_;
    if (batch_.method == satrnn::Method::Certified) {
      // The certificate bounds products by |Wy| and so needs |h| <= 1 (always true for
      // tanh states); caller-supplied states outside that range use the ordered sums.
      bool bounded = true;
      const size_t n = batch_.T * model_.H;
      for (size_t i = 0; i < n && bounded; ++i) bounded = std::fabs(batch_.states[i]) <= 1.0f;
      if (bounded) {
        satrnn::prepare_certificate(model_, &cert_);
        batch_.cert = &cert_;
      } else {
        batch_.method = satrnn::Method::Ordered;
      }
    }
    std::atomic<size_t> next{0}, done{0};
    std::atomic<bool> cancel{false};
    // Tiles. Few variants (the q3 study's 257, a cumulative curve's 63): split positions, so
    // the full sums of each position are computed once and every thread gets equal work; the
    // bits go to a [V][T] array (the caller's or a scratch one) and the means are summed in t
    // order afterwards. Many variants, or a scratch array too big: contiguous chunks of
    // variants over all positions, which share each position's full sums within the chunk.
    // Which thread takes which tile never changes a result.
    const size_t V = batch_.V, T = batch_.T;
    const bool split_positions = threads_ > 1 && T >= 2 * threads_ && V < 64 * static_cast<size_t>(threads_) &&
                                 (want_bits_ || V * T <= (size_t{1} << 22));
    if (split_positions && !want_bits_) {
      bits_.assign(V * T, 0.0);
      batch_.bits = bits_.data();
    }
    const size_t per = split_positions ? 4 * threads_ : V < 512 ? threads_ : 4 * threads_;
    const size_t span = split_positions ? T : V;
    const size_t chunk = std::max<size_t>(1, (span + per - 1) / per);
    std::string failure;
    auto work = [&]() {
      try {
        for (;;) {
          if (cancel.load()) return;
          const size_t a = next.fetch_add(chunk);
          if (a >= span) return;
          const size_t b = std::min(span, a + chunk);
          if (split_positions) satrnn::readout_tile(batch_, 0, V, a, b, isa_, &done, &cancel);
          else satrnn::readout_tile(batch_, a, b, 0, T, isa_, &done, &cancel);
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(failure_mu_);
        failure = e.what();
        cancel.store(true);
      }
    };
    const size_t tiles = (span + chunk - 1) / chunk;
    unsigned nt = threads_ < tiles ? threads_ : static_cast<unsigned>(tiles);
    if (nt == 0) nt = 1;
    // This thread only reports progress and forwards cancellation; it wakes at once when
    // the last worker exits (no sleep at the end of a batch).
    std::mutex mu;
    std::condition_variable cv;
    unsigned running = nt;
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < nt; ++i)
      pool.emplace_back([&]() {
        work();
        std::lock_guard<std::mutex> lock(mu);
        if (--running == 0) cv.notify_all();
      });
    size_t last = 0;
    {
      std::unique_lock<std::mutex> lock(mu);
      while (running > 0) {
        cv.wait_for(lock, std::chrono::milliseconds(20));
        if (cancel_ptr_ && __atomic_load_n(cancel_ptr_, __ATOMIC_RELAXED) != 0) cancel.store(true);
        // Progress is counted in predictions and reported as whole variants' worth.
        const size_t d = T ? done.load() / T : 0;
        if (has_progress_ && d != last && running > 0) {
          last = d;
          progress.Send(&d, 1);
        }
      }
    }
    for (auto& t : pool) t.join();
    if (!failure.empty()) SetError("satrnn native: " + failure);
    else if (cancel.load()) SetError("aborted");
    else if (batch_.bits) satrnn::means_from_bits(batch_);
    if (!want_bits_) std::vector<double>().swap(bits_);  // scratch only
  }
  void OnProgress(const size_t* data, size_t count) override {
    if (count == 0 || !has_progress_) return;
    Napi::HandleScope scope(Env());
    Callback().Call({Napi::Number::New(Env(), static_cast<double>(*data)),
                     Napi::Number::New(Env(), static_cast<double>(batch_.V))});
  }
  void OnOK() override {
    Napi::Env env = Env();
    auto res = Napi::Object::New(env);
    auto mean = Napi::Float64Array::New(env, mean_.size());
    if (!mean_.empty()) std::memcpy(mean.Data(), mean_.data(), mean_.size() * sizeof(double));
    res.Set("mean", mean);
    res.Set("fallbacks", static_cast<double>(fallbacks_.load()));
    res.Set("method", batch_.method == satrnn::Method::Certified ? "certified" : "ordered");
    if (want_bits_) {
      auto bits = Napi::Float64Array::New(env, bits_.size());
      if (!bits_.empty()) std::memcpy(bits.Data(), bits_.data(), bits_.size() * sizeof(double));
      res.Set("bits", bits);
    }
    deferred_.Resolve(res);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Pins pins_;
  satrnn::ReadoutBatch batch_;
  satrnn::ModelView model_;
  Isa isa_;
  unsigned threads_;
  const int32_t* cancel_ptr_;
  bool want_bits_;
  bool has_progress_;
  std::vector<double> mean_, bits_;
  satrnn::Certificate cert_;
  std::atomic<uint64_t> fallbacks_{0};
  std::mutex failure_mu_;
};

// readout({weights, hidden, states, targets, keep, snap?, bits?, isa, method, threads, cancel?},
//         onProgress?) -> Promise<{mean: Float64Array [V], bits?: Float64Array [V*T],
//                                  method: 'ordered'|'certified', fallbacks: number}>
Napi::Value Readout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "readout");
  Pins pins;
  size_t H;
  auto w = get_weights(env, o, &H);
  pins.add(w);
  auto states = typed<float>(env, o.Get("states"), "states");
  pins.add(states);
  auto targets = typed<uint8_t>(env, o.Get("targets"), "targets");
  pins.add(targets);
  const size_t T = targets.ElementLength();
  if (T < 1) range_error(env, "targets must not be empty");
  if (states.ElementLength() != T * H) range_error(env, "states length must equal targets length * hidden");
  auto keep = typed<uint8_t>(env, o.Get("keep"), "keep");
  pins.add(keep);
  if (keep.ElementLength() % H != 0 || keep.ElementLength() == 0)
    range_error(env, "keep length must be a positive multiple of hidden");
  const size_t V = keep.ElementLength() / H;
  const uint8_t* snap = nullptr;
  Napi::Value sv = o.Get("snap");
  if (!sv.IsUndefined() && !sv.IsNull()) {
    auto s = typed<uint8_t>(env, sv, "snap");
    if (s.ElementLength() != V * H) range_error(env, "snap length must equal keep length");
    pins.add(s);
    snap = s.Data();
  }
  Isa isa = get_isa(env, o);
  unsigned threads = static_cast<unsigned>(get_size(env, o, "threads", 1, kMaxThreads));
  const int32_t* cancel = get_cancel(env, o, pins);
  bool want_bits = o.Get("bits").ToBoolean().Value();
  Napi::Function cb;
  if (info.Length() > 1 && info[1].IsFunction()) cb = info[1].As<Napi::Function>();
  else if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) type_error(env, "onProgress must be a function");

  satrnn::ReadoutBatch b{};
  b.method = static_cast<satrnn::Method>(get_size(env, o, "method", 0, 1));
  b.states = states.Data();
  b.targets = targets.Data();
  b.T = T;
  b.V = V;
  b.keep = keep.Data();
  b.snap = snap;
  auto* worker = new ReadoutWorker(env, cb, std::move(pins), b, w.Data(), H, isa, threads, cancel, want_bits);
  auto p = worker->Promise();
  worker->Queue();
  return p;
}

// The float32 ports by name (shared by mathF32 and checksumF32).
float (*float_fn(Napi::Env env, const std::string& name))(float) {
  if (name == "tanhf") return satrnn::gmath::tanhf;
  if (name == "expm1f") return satrnn::gmath::expm1f;
  if (name == "expf") return satrnn::gmath::expf;
  if (name == "logf") return satrnn::gmath::logf;
  if (name == "cosf") return satrnn::gmath::cosf;
  range_error(env, "unknown float function " + name);
}

// Math entry points for cross-checking the TS ports: mathF32(name, Float32Array), mathF64(name, Float64Array).
Napi::Value MathF32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) type_error(env, "mathF32(name, Float32Array)");
  std::string name = info[0].As<Napi::String>();
  auto in = typed<float>(env, info[1], "input");
  float (*f)(float) = float_fn(env, name);
  auto out = Napi::Float32Array::New(env, in.ElementLength());
  for (size_t i = 0; i < in.ElementLength(); ++i) out[i] = f(in[i]);
  return out;
}

Napi::Value MathF64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) type_error(env, "mathF64(name, Float64Array)");
  std::string name = info[0].As<Napi::String>();
  auto in = typed<double>(env, info[1], "input");
  auto out = Napi::Float64Array::New(env, in.ElementLength());
  if (name == "exp4_avx2") {
#if defined(__x86_64__)
    if (!satrnn::cpu_has_avx2()) range_error(env, "no AVX2");
    satrnn::gmath::exp_array_avx2(in.Data(), out.Data(), in.ElementLength());
    return out;
#else
    range_error(env, "no AVX2");
#endif
  }
  if (name == "exp_softmax_avx2") {
#if defined(__x86_64__)
    if (!satrnn::cpu_has_avx2()) range_error(env, "no AVX2");
    const size_t n = in.ElementLength();
    for (size_t i = 0; i < n; ++i)
      if (!(in[i] > -512.0 && in[i] <= 0.0)) range_error(env, "exp_softmax_avx2 takes arguments in (-512, 0]");
    satrnn::gmath::exp_nonpos_array_avx2(in.Data(), out.Data(), n);
    return out;
#else
    range_error(env, "no AVX2");
#endif
  }
  double (*f)(double) = nullptr;
  if (name == "exp") f = satrnn::gmath::exp;
  else if (name == "log2") f = satrnn::gmath::log2;
  else if (name == "log") f = satrnn::gmath::log;
  else range_error(env, "unknown double function " + name);
  for (size_t i = 0; i < in.ElementLength(); ++i) out[i] = f(in[i]);
  return out;
}

// checksumF32(name) -> Promise<hex string>: the 00-common §7b FNV checksum over all 2^32 inputs.
Napi::Value ChecksumF32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) type_error(env, "checksumF32(name)");
  std::string name = info[0].As<Napi::String>();
  float (*f)(float) = float_fn(env, name);
  auto h = std::make_shared<uint64_t>(0);
  return TaskWorker::Start(
      env, Pins{}, [f, h]() { *h = satrnn::gmath::checksum_all_f32(f); },
      [h](Napi::Env e) {
        char buf[17];
        snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(*h));
        return Napi::String::New(e, buf);
      });
}

float get_float(Napi::Env env, const Napi::Object& o, const char* key, bool positive) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) type_error(env, std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  const float f = static_cast<float>(d);
  if (!std::isfinite(d) || static_cast<double>(f) != d || (positive && !(f > 0.0f)))
    range_error(env, std::string(key) + " must be a finite float32 value" + (positive ? " > 0" : ""));
  return f;
}

// weights + hidden + data (>= 2 bytes) of a training or evaluation call, pinned.
struct TrainCall {
  Pins pins;
  size_t H = 0;
  float* w = nullptr;
  const uint8_t* data = nullptr;
  size_t len = 0;
};
TrainCall get_train_call(Napi::Env env, const Napi::Object& o) {
  TrainCall c;
  auto w = get_weights(env, o, &c.H);
  c.pins.add(w);
  auto data = typed<uint8_t>(env, o.Get("data"), "data");
  if (data.ElementLength() < 2) range_error(env, "data must hold at least 2 bytes");
  c.pins.add(data);
  c.w = w.Data();
  c.data = data.Data();
  c.len = data.ElementLength();
  return c;
}

// Marks externals that really hold a FastWorkspace, so no other object is ever cast to one.
const napi_type_tag kWorkspaceTag = {0x73617472726e6e66ull, 0x61737477736b7370ull};

// The fast (non-exact) trainer keeps scratch memory and a helper thread in a workspace that
// JS holds as an External across epochs; `fast: <workspace>` selects the fast kernels.
Napi::Value CreateFastWorkspace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!satrnn::fast_kernels_available()) return env.Null();
  auto ext = Napi::External<satrnn::FastWorkspace>::New(env, new satrnn::FastWorkspace(),
                                                        [](Napi::Env, satrnn::FastWorkspace* ws) { delete ws; });
  ext.TypeTag(&kWorkspaceTag);
  return ext;
}

satrnn::FastWorkspace* get_fast_workspace(Napi::Env env, const Napi::Object& o, Pins& pins) {
  Napi::Value v = o.Get("fast");
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!v.IsExternal() || !v.As<Napi::External<satrnn::FastWorkspace>>().CheckTypeTag(&kWorkspaceTag))
    type_error(env, "fast must be a workspace from createFastWorkspace()");
  pins.add(v);
  return v.As<Napi::External<satrnn::FastWorkspace>>().Data();
}

// Which trainer kernels a call runs: the exact ones on `isa`, or the fast ones (`fast`
// workspace) with `threads`.
struct TrainKernels {
  Isa isa;
  satrnn::FastWorkspace* ws;
  int fast_threads;
};
TrainKernels get_train_kernels(Napi::Env env, const Napi::Object& o, Pins& pins) {
  const Isa isa = get_isa(env, o);
  satrnn::FastWorkspace* ws = get_fast_workspace(env, o, pins);
  return {isa, ws, get_fast_threads(env, o)};
}

// trainInit({hidden, seed}) -> Float32Array: the original's initial weights (any H).
Napi::Value TrainInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "trainInit");
  const size_t H = get_size(env, o, "hidden", 1, kMaxHidden);
  const uint32_t seed = static_cast<uint32_t>(get_size(env, o, "seed", 0, 0xffffffffu));
  auto w = Napi::Float32Array::New(env, satrnn::param_count(H));
  satrnn::train_init(w.Data(), H, seed);
  return w;
}

// trainEpoch({weights, hidden, data, lr, lrPeak, bptt, clip, isa, cancel?}) -> Promise<train bpc>.
// Updates `weights` in place: the caller must not touch it until the promise settles.
Napi::Value TrainEpoch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "trainEpoch");
  TrainCall c = get_train_call(env, o);
  satrnn::TrainParams p;
  p.H = c.H;
  p.bptt = static_cast<int>(get_size(env, o, "bptt", 1, 1u << 20));
  p.lr_peak = get_float(env, o, "lrPeak", true);
  p.clip = get_float(env, o, "clip", true);
  const float lr = get_float(env, o, "lr", true);
  const TrainKernels k = get_train_kernels(env, o, c.pins);
  const int32_t* cancel = get_cancel(env, o, c.pins);
  float* wp = c.w;
  const uint8_t* dp = c.data;
  const size_t len = c.len;
  auto result = std::make_shared<double>(0.0);
  return TaskWorker::Start(
      env, std::move(c.pins),
      [=]() {
        // The C++ kernel polls an atomic<bool>; a watcher mirrors the JS flag into it and
        // is woken at once when the epoch ends.
        std::atomic<bool> stop{false};
        std::mutex mu;
        std::condition_variable cv;
        bool finished = false;
        std::thread watcher;
        if (cancel)
          watcher = std::thread([&]() {
            std::unique_lock<std::mutex> lock(mu);
            while (!finished) {
              if (__atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) stop.store(true);
              cv.wait_for(lock, std::chrono::milliseconds(10));
            }
          });
        *result = k.ws ? satrnn::train_epoch_fast_threads(wp, dp, len, lr, p, *k.ws, k.fast_threads, &stop)
                       : satrnn::train_epoch(wp, dp, len, lr, p, k.isa, &stop);
        {
          std::lock_guard<std::mutex> lock(mu);
          finished = true;
        }
        cv.notify_all();
        if (watcher.joinable()) watcher.join();
      },
      [result](Napi::Env e) { return Napi::Number::New(e, *result); });
}

// evalBpc({weights, hidden, data, isa}) -> Promise<bpc>: the trainer's float evaluation.
Napi::Value EvalBpc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = options_arg(info, "evalBpc");
  TrainCall c = get_train_call(env, o);
  const TrainKernels k = get_train_kernels(env, o, c.pins);
  const float* wp = c.w;
  const uint8_t* dp = c.data;
  const size_t H = c.H, len = c.len;
  auto result = std::make_shared<double>(0.0);
  return TaskWorker::Start(
      env, std::move(c.pins),
      [=]() {
        *result = k.ws ? satrnn::eval_bpc_fast_threads(wp, H, dp, len, *k.ws, k.fast_threads)
                       : satrnn::eval_bpc(wp, H, dp, len, k.isa);
      },
      [result](Napi::Env e) { return Napi::Number::New(e, *result); });
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
#if defined(__x86_64__)
  o.Set("avx2Compiled", true);
#else
  o.Set("avx2Compiled", false);
#endif
  o.Set("avx2", satrnn::cpu_has_avx2());
  o.Set("fastTraining", satrnn::fast_kernels_available());
  o.Set("hardwareThreads", static_cast<double>(std::thread::hardware_concurrency()));
  o.Set("napiVersion", NAPI_VERSION);
#if defined(__SANITIZE_ADDRESS__)
  o.Set("sanitized", true);
#else
  o.Set("sanitized", false);
#endif
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("forward", Napi::Function::New(env, Forward));
  exports.Set("readout", Napi::Function::New(env, Readout));
  exports.Set("mathF32", Napi::Function::New(env, MathF32));
  exports.Set("mathF64", Napi::Function::New(env, MathF64));
  exports.Set("checksumF32", Napi::Function::New(env, ChecksumF32));
  exports.Set("trainInit", Napi::Function::New(env, TrainInit));
  exports.Set("trainEpoch", Napi::Function::New(env, TrainEpoch));
  exports.Set("evalBpc", Napi::Function::New(env, EvalBpc));
  exports.Set("createFastWorkspace", Napi::Function::New(env, CreateFastWorkspace));
  return exports;
}

}  // namespace

NODE_API_MODULE(satrnn, Init)
