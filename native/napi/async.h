// One async worker base for every heavy binding: the work runs off the main thread and
// settles a Promise; a watcher mirrors the JS cancel flag into an atomic the kernels poll
// and reports progress (done, total) to an optional JS callback; exceptions and
// cancellation become rejected promises ("aborted" is what lib/engine/native.ts maps to
// ABORTED). The job owns all memory its work touches (JobIo; why and how: "Memory of async
// jobs" in args.h): OnOK copies the outputs back to their JS arrays, on the main thread, or
// rejects (TypeError, nothing written back) when one was detached or resized meanwhile.
#pragma once
#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "napi/args.h"

namespace satrnn::napi {

struct JobContext {
  std::atomic<bool> cancel{false};
  std::atomic<size_t> done{0};
  std::atomic<size_t> total{0};
};

class Job : public Napi::AsyncProgressWorker<size_t> {
 public:
  using Work = std::function<void(JobContext&)>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  // Starts the job; returns its promise.
  static Napi::Promise Start(Napi::Env env, JobIo io, Napi::Function on_progress, const int32_t* js_cancel, Work work, Done done) {
    auto* job = new Job(env, std::move(io), on_progress, js_cancel, std::move(work), std::move(done));
    auto p = job->deferred_.Promise();
    job->Queue();
    return p;
  }

  void Execute(const ExecutionProgress& progress) override {
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    // Watcher: every kPoll, mirror the JS flag and send progress when it moved. Woken at
    // once when the work ends, so a short job never waits for a tick.
    std::thread watcher([&]() {
      size_t last = 0;
      std::unique_lock<std::mutex> lock(mu);
      while (!finished) {
        cv.wait_for(lock, kPoll);
        if (js_cancel_ && __atomic_load_n(js_cancel_, __ATOMIC_RELAXED) != 0) ctx_.cancel.store(true);
        const size_t d = ctx_.done.load();
        if (has_progress_ && d != last && !finished) {
          last = d;
          progress.Send(&d, 1);
        }
      }
    });
    try {
      work_(ctx_);
    } catch (const std::exception& e) {
      error_ = std::string("satrnn native: ") + e.what();
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      finished = true;
    }
    cv.notify_all();
    watcher.join();
    if (!error_.empty()) SetError(error_);
    else if (ctx_.cancel.load()) SetError("aborted");
  }
  void OnProgress(const size_t* data, size_t count) override {
    if (count == 0 || !has_progress_) return;
    Napi::HandleScope scope(Env());
    Callback().Call({Napi::Number::New(Env(), static_cast<double>(*data)), Napi::Number::New(Env(), static_cast<double>(ctx_.total.load()))});
  }
  void OnOK() override {
    Napi::Env env = Env();
    const std::string lost = io_.lost_output(env);
    if (!lost.empty()) {
      deferred_.Reject(Napi::TypeError::New(env, "satrnn native: an output buffer (" + lost +
                                                     ") was detached or resized while the job ran; nothing was written back")
                           .Value());
      return;
    }
    io_.write_back(env);
    deferred_.Resolve(done_(env));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  // Cancellation latency and progress granularity; the kernels themselves poll the atomic
  // at least every kCancelEvery positions.
  static constexpr std::chrono::milliseconds kPoll{20};

  Job(Napi::Env env, JobIo io, Napi::Function on_progress, const int32_t* js_cancel, Work work, Done done)
      : Napi::AsyncProgressWorker<size_t>(on_progress.IsEmpty() ? Napi::Function::New(env, [](const Napi::CallbackInfo&) {}) : on_progress),
        deferred_(Napi::Promise::Deferred::New(env)), io_(std::move(io)), js_cancel_(js_cancel),
        has_progress_(!on_progress.IsEmpty()), work_(std::move(work)), done_(std::move(done)) {}

  Napi::Promise::Deferred deferred_;
  JobIo io_;
  const int32_t* js_cancel_;
  bool has_progress_;
  Work work_;
  Done done_;
  JobContext ctx_;
  std::string error_;
};

}  // namespace satrnn::napi
