// Build: g++ -O2 -ffp-contract=off -fno-fast-math -std=c++17 -pthread -Inative -o /tmp/train_fast_bench tools/traincheck/train_fast_bench.cc native/kernels/train_fast.cc native/kernels/train.cc native/core/step.cc native/core/cpu.cc
// Run:   /tmp/train_fast_bench [datafile [reps [long_epochs]]]
//        default datafile ../shared/reference/enwik_1024.txt (relative to the repo root),
//        reps 5 (best-of timing of `sat_train 5 5`), long_epochs 100.
//
// Compares the fast, non-exact trainer (train_fast.h, `satrnn train --fast`) with the
// exact AVX2 kernels (train.h):
//  1. time of the whole `sat_train <data> <prefix> 5 5` computation (init, 5 epochs, the
//     6 evaluations: one per epoch and one of the best model), best of `reps`, in-process;
//  2. training quality: train/eval bpc after 5 epochs (E = 5) and after `long_epochs`
//     epochs (E = long_epochs), fast vs exact; must agree within 0.01 bpc;
//  3. determinism: two fast runs give the same bytes, and the single-threaded and
//     two-threaded schedules give the same bytes;
//  4. other shapes (H, bptt, lr_peak, clip): fast vs exact bpc close, schedules agree;
//  5. the cancel flag.
// Exit status 0 only if every check passes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "kernels/train.h"
#include "kernels/train_fast.h"
#include "common.h"

using namespace satrnn;
using namespace traincheck;

namespace {

// Fast*: one FastWorkspace per sat_train run (the intended use); FastNoWs: the plain
// calls, which allocate scratch (and start a helper thread) per call.
enum class Mode { Exact, FastNoWs, Fast, Fast1, Fast2 };

double epoch(Mode m, FastWorkspace* ws, float* w, const std::vector<uint8_t>& d, float lr,
             const TrainParams& p) {
  switch (m) {
    case Mode::Exact: return train_epoch(w, d.data(), d.size(), lr, p, Isa::Avx2);
    case Mode::FastNoWs: return train_epoch_fast(w, d.data(), d.size(), lr, p);
    case Mode::Fast: return train_epoch_fast(w, d.data(), d.size(), lr, p, *ws);
    case Mode::Fast1: return train_epoch_fast_threads(w, d.data(), d.size(), lr, p, *ws, 1);
    default: return train_epoch_fast_threads(w, d.data(), d.size(), lr, p, *ws, 2);
  }
}

double eval(Mode m, FastWorkspace* ws, const float* w, size_t H, const std::vector<uint8_t>& d) {
  switch (m) {
    case Mode::Exact: return eval_bpc(w, H, d.data(), d.size(), Isa::Avx2);
    case Mode::FastNoWs: return eval_bpc_fast(w, H, d.data(), d.size());
    case Mode::Fast: return eval_bpc_fast(w, H, d.data(), d.size(), *ws);
    case Mode::Fast1: return eval_bpc_fast_threads(w, H, d.data(), d.size(), *ws, 1);
    default: return eval_bpc_fast_threads(w, H, d.data(), d.size(), *ws, 2);
  }
}

struct Run {
  std::vector<double> tbpc, ebpc;
  double best_bpc = 0;   // eval bpc of the best model (the "Best model:" line)
  std::vector<float> final_w;
  double seconds = 0;
};

// The sat_train main loop (spec sat_train.md) without file output: init, E epochs, an
// evaluation on every reported epoch, the best copy and its evaluation.
Run sat_train(Mode mode, const std::vector<uint8_t>& data, int E, const TrainParams& p, uint32_t seed = 42) {
  Run r;
  const size_t n = param_count(p.H);
  std::vector<float> w(n), best(n, 0.0f);
  const auto t0 = std::chrono::steady_clock::now();
  FastWorkspace ws;
  train_init(w.data(), p.H, seed);
  double best_tbpc = 999.0;
  for (int e = 1; e <= E; ++e) {
    const float lr = train_lr(e, E, p.lr_peak);
    const double tbpc = epoch(mode, &ws, w.data(), data, lr, p);
    r.tbpc.push_back(tbpc);
    if (tbpc < best_tbpc - 0.0001) {
      best_tbpc = tbpc;
      best = w;
    }
    const bool report = e <= 10 || (e <= 100 && e % 10 == 0) || (e <= 1000 && e % 100 == 0) ||
                        e % 1000 == 0 || e == E;
    r.ebpc.push_back(report ? eval(mode, &ws, w.data(), p.H, data) : NAN);
  }
  r.best_bpc = eval(mode, &ws, best.data(), p.H, data);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.final_w = std::move(w);
  return r;
}

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void compare(const char* label, const Run& ex, const Run& fa, double tol) {
  const size_t E = ex.tbpc.size();
  const double dt = fa.tbpc[E - 1] - ex.tbpc[E - 1];
  const double de = fa.ebpc[E - 1] - ex.ebpc[E - 1];
  const double db = fa.best_bpc - ex.best_bpc;
  double max_dt = 0;
  for (size_t e = 0; e < E; ++e) max_dt = std::max(max_dt, std::fabs(fa.tbpc[e] - ex.tbpc[e]));
  std::printf("%s: exact tbpc %.6f ebpc %.6f best %.6f | fast tbpc %.6f ebpc %.6f best %.6f\n", label,
              ex.tbpc[E - 1], ex.ebpc[E - 1], ex.best_bpc, fa.tbpc[E - 1], fa.ebpc[E - 1], fa.best_bpc);
  std::printf("  diff (fast - exact): tbpc %+.6f ebpc %+.6f best %+.6f; max |tbpc diff| over epochs %.6f\n",
              dt, de, db, max_dt);
  char what[128];
  std::snprintf(what, sizeof what, "%s: final tbpc within %.3g", label, tol);
  check(std::fabs(dt) <= tol, what);
  std::snprintf(what, sizeof what, "%s: final ebpc within %.3g", label, tol);
  check(std::fabs(de) <= tol, what);
  std::snprintf(what, sizeof what, "%s: best-model bpc within %.3g", label, tol);
  check(std::fabs(db) <= tol, what);
}

}  // namespace

int main(int argc, char** argv) {
  const char* file = argc > 1 ? argv[1] : "../shared/reference/enwik_1024.txt";
  const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  const int long_epochs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 100;
  std::vector<uint8_t> data;
  if (!read_file(file, &data)) return 2;
  std::printf("data %s: %zu bytes; fast kernels (AVX2+FMA) %s, AVX2 %s\n", file, data.size(),
              fast_kernels_available() ? "available" : "NOT available (fast = exact fallback)",
              cpu_has_avx2() ? "yes" : "no");

  TrainParams p;
  p.H = 128;

  // 1. Timing of `sat_train 5 5` (warm-up run first).
  sat_train(Mode::Fast, data, 5, p);
  // Interleaved rounds so that load from other processes hits every variant alike.
  const Mode modes[] = {Mode::Exact, Mode::Fast, Mode::Fast1, Mode::Fast2, Mode::FastNoWs};
  const char* names[] = {"exact avx2", "fast (workspace)", "fast, 1 thread", "fast, 2 threads",
                         "fast, no workspace"};
  double best[5] = {1e9, 1e9, 1e9, 1e9, 1e9};
  for (int k = 0; k < reps; ++k)
    for (int i = 0; i < 5; ++i) best[i] = std::min(best[i], sat_train(modes[i], data, 5, p).seconds);
  std::printf("sat_train 5 5 (workspace creation + init + 5 epochs + 6 evals), best of %d:\n", reps);
  for (int i = 0; i < 5; ++i)
    std::printf("  %-20s %7.2f ms  (%.2fx exact)\n", names[i], best[i] * 1e3, best[0] / best[i]);

  // 2. Quality after 5 and after long_epochs epochs.
  {
    const Run ex = sat_train(Mode::Exact, data, 5, p);
    const Run fa = sat_train(Mode::Fast, data, 5, p);
    compare("E=5  ", ex, fa, 0.01);
    std::printf("  per epoch tbpc exact/fast:");
    for (size_t e = 0; e < ex.tbpc.size(); ++e) std::printf(" %.4f/%.4f", ex.tbpc[e], fa.tbpc[e]);
    std::printf("\n");
    // 3. Determinism.
    const Run fa2 = sat_train(Mode::Fast, data, 5, p);
    const Run f1 = sat_train(Mode::Fast1, data, 5, p);
    const Run f2 = sat_train(Mode::Fast2, data, 5, p);
    const Run fn = sat_train(Mode::FastNoWs, data, 5, p);
    const bool rep = same_bytes(fa.final_w, fa2.final_w) && fa.tbpc == fa2.tbpc && fa.ebpc == fa2.ebpc;
    const bool sched = same_bytes(f1.final_w, f2.final_w) && f1.tbpc == f2.tbpc &&
                       f1.ebpc == f2.ebpc && f1.best_bpc == f2.best_bpc &&
                       same_bytes(f1.final_w, fa.final_w) && same_bytes(fn.final_w, fa.final_w) &&
                       fn.ebpc == fa.ebpc;
    std::printf("determinism: repeated fast runs identical: %s; 1-thread == 2-thread == no-workspace: %s\n",
                rep ? "yes" : "NO", sched ? "yes" : "NO");
    check(rep, "repeated fast runs give the same bytes");
    check(sched, "1-thread and 2-thread schedules give the same bytes");
  }
  {
    const auto a = std::chrono::steady_clock::now();
    const Run ex = sat_train(Mode::Exact, data, long_epochs, p);
    const auto b = std::chrono::steady_clock::now();
    const Run fa = sat_train(Mode::Fast, data, long_epochs, p);
    const auto c = std::chrono::steady_clock::now();
    char label[32];
    std::snprintf(label, sizeof label, "E=%d", long_epochs);
    compare(label, ex, fa, 0.01);
    std::printf("  (exact %.0f ms, fast %.0f ms)\n", std::chrono::duration<double>(b - a).count() * 1e3,
                std::chrono::duration<double>(c - b).count() * 1e3);
    const Run fa2 = sat_train(Mode::Fast2, data, long_epochs, p);
    check(same_bytes(fa.final_w, fa2.final_w), "long run: auto and 2-thread schedules agree");
  }

  // 4. Other shapes: 3 epochs of E = 4; bpc sums close, the schedules agree byte for byte.
  std::vector<Shape> shapes = kShapes;
  shapes.insert(shapes.end(), {{64, 7, 0.01f, 5.0f, 9, 1024},
                               {200, 64, 0.01f, 5.0f, 5, 1024},
                               {128, 50, 0.01f, 5.0f, 42, 2},
                               {128, 50, 0.01f, 5.0f, 42, 3}});
  for (const Shape& c : shapes) {
    const TrainParams q = c.params();
    const std::vector<uint8_t> d(data.begin(), data.begin() + std::min(c.len, data.size()));
    std::vector<std::vector<float>> ws_out;
    std::vector<double> sums;
    FastWorkspace ws;
    for (Mode m : {Mode::Exact, Mode::Fast1, Mode::Fast2, Mode::FastNoWs}) {
      std::vector<float> w(param_count(c.H));
      train_init(w.data(), c.H, c.seed);
      double acc = 0;
      for (int e = 1; e <= 3; ++e) {
        acc += epoch(m, &ws, w.data(), d, train_lr(e, 4, c.lr_peak), q);
        acc += eval(m, &ws, w.data(), c.H, d);
      }
      ws_out.push_back(w);
      sums.push_back(acc);
    }
    std::printf("H=%zu bptt=%d lr_peak=%g clip=%g len=%zu: sum(bpc) exact %.6f fast %.6f (diff %+.2e)\n",
                c.H, c.bptt, static_cast<double>(c.lr_peak), static_cast<double>(c.clip), d.size(),
                sums[0], sums[1], sums[1] - sums[0]);
    check(std::fabs(sums[1] - sums[0]) <= 0.01 * 6, "other shape: fast bpc close to exact");
    check(same_bytes(ws_out[1], ws_out[2]) && sums[1] == sums[2] && same_bytes(ws_out[1], ws_out[3]) &&
              sums[1] == sums[3],
          "other shape: schedules and workspace reuse agree");
  }
  // Edge: len 0 / 1 behave like the exact kernels (NaN train bpc, eval -0 / NaN).
  {
    std::vector<float> w(param_count(16));
    train_init(w.data(), 16, 42);
    TrainParams q;
    q.H = 16;
    const uint8_t b = 'a';
    const double t1 = train_epoch_fast(w.data(), &b, 1, 0.01f, q);
    const double e0 = eval_bpc_fast(w.data(), 16, &b, 0);
    const double e1 = eval_bpc_fast(w.data(), 16, &b, 1);
    const double x0 = eval_bpc(w.data(), 16, &b, 0, Isa::Avx2);
    check(t1 != t1 && e1 != e1 && e0 == 0.0 && std::signbit(e0) == std::signbit(x0), "len < 2 edge cases");
  }
  // 5. Cancellation: a set flag stops the epoch before its first window.
  for (int th : {1, 2}) {
    std::vector<float> w(param_count(128)), w0;
    train_init(w.data(), 128, 42);
    w0 = w;
    std::atomic<bool> stop{true};
    FastWorkspace ws;
    const double r = train_epoch_fast_threads(w.data(), data.data(), data.size(), 0.01f, p, ws, th, &stop);
    check(r != r && same_bytes(w, w0), "cancel flag stops the epoch");
  }
  std::printf(failures ? "FAILED (%d)\n" : "ALL CHECKS PASSED\n", failures);
  return failures ? 1 : 0;
}
