// Fast, NON-EXACT sat_train kernels (the `--fast` training path).
//
// Same algorithm as train.h (spec sat_train.md): the same windows (bptt predictions,
// hidden state carried between windows and reset per epoch), the same per-window SGD
// update with global-norm clipping, the same cosine schedule (train_lr is shared), the
// same float loss definition and bpc denominators. What differs is the arithmetic: fused
// multiply-adds, reassociated (blocked / tree) sums, vectorised float tanh/exp (relative
// error <= 3e-7; logf stays glibc-exact), a multiplication by 1/sum in the softmax, a
// double gradient-norm sum, and a second thread. The results therefore differ from the
// exact kernels in the last bits (and the weights drift apart slowly over epochs), but
// they train equally well: on the reference data |bpc difference| < 1e-4 after 5 and
// after 100 epochs (tools/traincheck/train_fast_bench.cc); over 1000 epochs the curves
// differ by up to 0.03 bpc mid-run and 5e-4 at the end, the same as the exact kernels
// started from weights perturbed by 1e-6 (the training dynamics amplify any difference).
//
// Deterministic: every output element is computed by the same code whichever thread runs
// it, and every sum has a fixed order, so the bytes do not depend on thread timing, on
// the number of threads (the *_threads hooks), or on whether a workspace is reused. They
// do depend on the CPU path: without AVX2+FMA (fast_kernels_available() false) these
// functions run the exact kernels of train.h (Isa::Avx2, with train.h's fallback).
//
// Errors as train.h: H = 0 or bptt < 1 throw std::invalid_argument; len < 2 gives the same
// NaN / -0.0 results as the exact kernels. Cancellation as train.h (checked between
// windows; NaN result, weights partially updated).
//
// Threads: the caller's thread runs the two recurrences; a helper thread takes readout,
// backward-GEMM and update work items from shared lists. It is used when the machine has
// >= 2 CPUs, H >= 48, len >= 256 (and bptt >= 8 for training), or always / never when the
// caller says so (the *_threads functions; satrnn passes the backend's thread count); if
// the helper is descheduled for long in the middle of a call, the caller finishes the call
// alone. None of this changes the results.
//
// Weights: when H % 8 == 0 the caller's array is read and updated in place (any float
// alignment); Wx is kept transposed in the workspace and written back at the end of the
// call (also when cancelled). Otherwise the call works on a zero-padded copy.
//
// Thread safety: no mutable globals. Concurrent calls are safe as long as each uses its
// own weights (for training) and its own FastWorkspace (or none).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/train.h"

namespace satrnn {

// Scratch memory (~0.6 MB at H = 128) and a helper thread, reused across calls. Keep one
// workspace per training run (e.g. per AsyncWorker) and pass it to every epoch and
// evaluation: on this machine class a freshly touched 4 KiB page costs ~10 us (the VM
// hands freed pages back to the host), and waking a parked thread 0.05-3 ms. The helper
// polls for the next call for ~2 ms after each call (calls come back to back during
// training), then parks; the destructor joins it. Not thread-safe: one call at a time per
// workspace (a second concurrent call throws std::logic_error; an evaluation running
// concurrently with training needs its own workspace).
class FastWorkspace {
 public:
  FastWorkspace();
  ~FastWorkspace();
  FastWorkspace(const FastWorkspace&) = delete;
  FastWorkspace& operator=(const FastWorkspace&) = delete;
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// One training epoch (see train_epoch in train.h) with the fast kernels. Without a
// workspace, a temporary one (heap scratch, a helper thread started for the call) is used.
double train_epoch_fast(float* weights, const uint8_t* data, size_t len, float lr,
                        const TrainParams& p, const std::atomic<bool>* cancel = nullptr);
double train_epoch_fast(float* weights, const uint8_t* data, size_t len, float lr,
                        const TrainParams& p, FastWorkspace& ws,
                        const std::atomic<bool>* cancel = nullptr);

// The trainer's evaluation (see eval_bpc in train.h) with the fast kernels.
double eval_bpc_fast(const float* weights, size_t H, const uint8_t* data, size_t len);
double eval_bpc_fast(const float* weights, size_t H, const uint8_t* data, size_t len,
                     FastWorkspace& ws);

// True when the fast kernels run on this CPU (x86-64 with AVX2 and FMA).
bool fast_kernels_available();

// Testing hooks: threads = 1 runs everything on the calling thread, 2 always uses the
// helper thread, 0 chooses as described above (what the functions above do). Same bytes
// for every value.
double train_epoch_fast_threads(float* weights, const uint8_t* data, size_t len, float lr,
                                const TrainParams& p, FastWorkspace& ws, int threads,
                                const std::atomic<bool>* cancel = nullptr);
double eval_bpc_fast_threads(const float* weights, size_t H, const uint8_t* data, size_t len,
                             FastWorkspace& ws, int threads);

}  // namespace satrnn
