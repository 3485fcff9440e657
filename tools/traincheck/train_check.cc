// Build: g++ -O2 -ffp-contract=off -fno-fast-math -std=c++17 -Inative -o /tmp/train_check tools/traincheck/train_check.cc native/kernels/train.cc native/core/step.cc native/core/cpu.cc
//        (add -DSATRNN_NO_SSE2 to check the build without the SSE2 kernels)
// Run:   /tmp/train_check [datafile [max_epochs [reps]]]
//        default datafile ../shared/reference/enwik_1024.txt (relative to the repo root,
//        i.e. run from the repo root), default max_epochs 5, reps 3 (best-of timing).
//
// Runs the sat_train main loop (spec sat_train.md) with the native kernels on each ISA
// this build and CPU can run (scalar, SSE2, AVX2), prints the lines the original prints
// on stdout plus the sha256 of the initial model and of the model after every epoch, and,
// for the reference run (enwik_1024.txt, E = 5), compares everything with the spec's
// check values. Exit status 0 only if every check passes and all ISAs agree byte for byte.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/cpu.h"
#include "kernels/train.h"
#include "common.h"

using namespace satrnn;
using namespace traincheck;

namespace {

// Check values from spec sat_train.md (reference data, `5 5`).
const char* kInitSha = "02aa8694013bb47a2ce64f48d7d600152fe6e2df4e77ad1fe69809bc4fd112f9";
const char* kEpochSha[5] = {
    "612b4685b7f7433578cb3a60ec6e4dc2976cea5c5b0cf0b49da5563d9f69d15e",
    "795686dd588249ee9334c7c5110df865236ae0741c9a528ce5408445ec5abfab",
    "2372d67f504a55e3e57898c515596ecce3b4cceb58d3222d0a8a5a8961309e11",
    "ea73e1f5048d7fcd5e8c4ea8c8eaadaf9526b74eea50f8b00a503ad9493fd3d9",
    "561460209b2d3197cc1b765ed3f866a2036405e735edeeb07c4508285ae51980",
};
const double kTbpc[5] = {7.8841693742396854, 7.6680264067235893, 7.5300482826970487,
                         7.4685826990366353, 7.4536612832824467};
const double kEbpc[5] = {7.7500639627543624, 7.5726293259552664, 7.4802514288137614,
                         7.4548807112686797, 7.4522279868761716};
const uint32_t kLrBits[5] = {0x3c1431d6u, 0x3bd67826u, 0x3b626bd9u, 0x3a7a533du, 0x38d1b717u};

// test/train-kernels.test.ts's values for kShapes on the reference data (sum of the
// 3 train + 3 eval bpc, sha256 of the final model).
const double kShapeSum[6] = {46.335188538558725, 45.086476749013173, 44.445693060131063,
                             46.181833400411165, 47.208956914168276, 47.533630569711981};
const char* kShapeSha[6] = {
    "036bf2626524ab908a326423493cc4d23f97d23dbbfacdaf0edc42755b98fdfa",
    "b53b7e40c0dfd05243ed585459c4d75326f691f182a3122fb85efc38b80fdbf5",
    "ba5419050b5fd962bd506201d9567dfb4a15da254c554af8a72521a48798afe9",
    "279da8e40036d17805fbdf24625b44c74af0fa8894f733f82689d09a2a797bce",
    "cd7b5fbc17352c366d36b780dfbb05336ea47837ecd52cdeeb3375f28ad26819",
    "c9d53f8d77f4b0b4532accb1c71288a2c4f51ccb6c9c07dfbc842ace8639d23d",
};

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Sse2: return "sse2";
    case Isa::Avx2: return "avx2";
  }
  return "?";
}

uint32_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// sha256 of the raw little-endian model bytes via sha256sum and a temp file.
std::string sha256(const std::vector<float>& w) {
  char path[] = "/tmp/train_check_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "?";
  FILE* f = fdopen(fd, "wb");
  std::fwrite(w.data(), sizeof(float), w.size(), f);
  std::fclose(f);
  std::string cmd = std::string("sha256sum ") + path;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[128] = {0};
  if (p) {
    if (!std::fgets(buf, sizeof buf, p)) buf[0] = 0;
    pclose(p);
  }
  unlink(path);
  return std::string(buf, strnlen(buf, 64));
}

struct RunResult {
  std::vector<std::string> lines;
  std::vector<std::string> hashes;  // init, after each epoch
  std::vector<double> tbpc, ebpc;
  std::vector<float> lr;
  std::vector<float> final_w;
  double seconds = 0;
};

// The original main loop (printing into lines); hashes are taken outside the timing.
RunResult run(const std::vector<uint8_t>& data, int E, Isa isa, bool hashes) {
  RunResult r;
  TrainParams p;
  p.H = 128;
  const size_t n = param_count(p.H);
  std::vector<float> w(n), best(n, 0.0f);
  char line[256];
  const auto t0 = std::chrono::steady_clock::now();
  double hash_time = 0;
  train_init(w.data(), p.H, 42);
  auto hash_now = [&]() {
    if (!hashes) return;
    const auto a = std::chrono::steady_clock::now();
    r.hashes.push_back(sha256(w));
    hash_time += std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
  };
  hash_now();
  std::snprintf(line, sizeof line, "sat_train: %zu bytes, %d epochs, ckpt every %d", data.size(), E,
                E);
  r.lines.push_back(line);
  std::snprintf(line, sizeof line, "%8s %10s %10s %8s", "epoch", "train_bpc", "eval_bpc", "lr");
  r.lines.push_back(line);
  double best_bpc = 999.0;
  for (int e = 1; e <= E; ++e) {
    const float lr = train_lr(e, E, p.lr_peak);
    r.lr.push_back(lr);
    const double tbpc = train_epoch(w.data(), data.data(), data.size(), lr, p, isa);
    r.tbpc.push_back(tbpc);
    if (tbpc < best_bpc - 0.0001) {
      best_bpc = tbpc;
      best = w;
    }
    const bool report = e <= 10 || (e <= 100 && e % 10 == 0) || (e <= 1000 && e % 100 == 0) ||
                        e % 1000 == 0 || e == E;
    if (report) {
      const double ebpc = eval_bpc(w.data(), p.H, data.data(), data.size(), isa);
      r.ebpc.push_back(ebpc);
      std::snprintf(line, sizeof line, "%8d %10.4f %10.4f %8.6f%s", e, tbpc, ebpc,
                    static_cast<double>(lr), tbpc <= best_bpc + 0.0001 ? " *" : "");
      r.lines.push_back(line);
    }
    hash_now();
  }
  const double bb = eval_bpc(best.data(), p.H, data.data(), data.size(), isa);
  r.lines.push_back("");
  std::snprintf(line, sizeof line, "Best model: %.4f bpc -> %s", bb, "model_best.bin");
  r.lines.push_back(line);
  r.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() - hash_time;
  r.final_w = w;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const char* file = argc > 1 ? argv[1] : "../shared/reference/enwik_1024.txt";
  const int E = argc > 2 ? std::atoi(argv[2]) : 5;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  std::vector<uint8_t> data;
  if (!read_file(file, &data)) return 2;
  const bool ref_data = data.size() == 1024 && std::strstr(file, "enwik_1024");
  const bool reference = ref_data && E == 5;

  // Spec constants of the schedule and the initialisation.
  check(fbits(0.01f * 0.5f) == 0x3ba3d70au, "0.01f*0.5f bits");
  check(fbits(0.01f * 0.01f) == 0x38d1b717u, "0.01f*0.01f bits");
  {
    std::vector<float> w(param_count(128));
    train_init(w.data(), 128, 42);
    const ModelView m(w.data(), 128);
    check(fbits(m.Wx[0]) == 0xbb6edd07u && fbits(m.Wx[1]) == 0xbaae1ddcu &&
              fbits(m.Wh[0]) == 0x3b543f30u && fbits(m.Wx[256]) == 0xbb1d83eau &&
              fbits(m.Wy[0]) == 0xb98452f8u && fbits(m.Wy[255 * 128 + 127]) == 0xbb526bcdu,
          "init check values");
  }

  // Every ISA that can run here; the others are only checked as fallbacks (below).
  std::vector<Isa> isas, missing;
  for (Isa isa : {Isa::Scalar, Isa::Sse2, Isa::Avx2}) (isa_available(isa) ? isas : missing).push_back(isa);
  for (Isa isa : missing) std::printf("(%s not available in this build/CPU: skipped)\n", isa_name(isa));
  std::vector<RunResult> results;
  for (Isa isa : isas) {
    const char* name = isa_name(isa);
    RunResult r = run(data, E, isa, true);
    double best = r.seconds;
    for (int k = 1; k < reps; ++k) best = std::min(best, run(data, E, isa, false).seconds);
    std::printf("== %s: %.3f s (best of %d, %d epochs + %d evals, hashing excluded)\n", name, best,
                reps, E, E + 1);
    for (auto& l : r.lines) std::printf("%s\n", l.c_str());
    std::printf("init  sha256 %s\n", r.hashes[0].c_str());
    for (int e = 1; e <= E; ++e)
      std::printf("epoch %d lr %08" PRIx32 " tbpc %.17g ebpc %.17g sha256 %s\n", e, fbits(r.lr[e - 1]),
                  r.tbpc[e - 1], e - 1 < static_cast<int>(r.ebpc.size()) ? r.ebpc[e - 1] : 0.0,
                  r.hashes[e].c_str());
    if (reference) {
      check(r.hashes[0] == kInitSha, "init sha256");
      for (int e = 0; e < 5; ++e) {
        char what[64];
        std::snprintf(what, sizeof what, "epoch %d lr", e + 1);
        check(fbits(r.lr[e]) == kLrBits[e], what);
        std::snprintf(what, sizeof what, "epoch %d tbpc", e + 1);
        check(r.tbpc[e] == kTbpc[e], what);
        std::snprintf(what, sizeof what, "epoch %d ebpc", e + 1);
        check(r.ebpc[e] == kEbpc[e], what);
        std::snprintf(what, sizeof what, "epoch %d sha256", e + 1);
        check(r.hashes[e + 1] == kEpochSha[e], what);
      }
    }
    results.push_back(std::move(r));
  }
  for (size_t k = 1; k < results.size(); ++k) {
    char what[64];
    std::snprintf(what, sizeof what, "%s and %s agree", isa_name(isas[0]), isa_name(isas[k]));
    check(results[0].final_w == results[k].final_w && results[0].lines == results[k].lines &&
              results[0].hashes == results[k].hashes && results[0].tbpc == results[k].tbpc &&
              results[0].ebpc == results[k].ebpc,
          what);
  }
  if (!reference) std::printf("(not the reference run: only ISA agreement was checked)\n");

  // Generalised configurations (H, bptt, lr_peak, clip, seed; 3 epochs of E = 4 on the
  // data): all ISAs must agree, and on the reference data match the cross-check values
  // of the TypeScript kernel test (test/train-kernels.test.ts). The unavailable ISAs are
  // requested too: they must fall back (Avx2 -> Sse2 -> Scalar) to the same bytes.
  std::vector<Isa> requested = isas;
  requested.insert(requested.end(), missing.begin(), missing.end());
  for (size_t si = 0; si < kShapes.size(); ++si) {
    const Shape& c = kShapes[si];
    std::vector<std::string> hs;
    std::vector<double> bp;
    for (Isa isa : requested) {
      const TrainParams p = c.params();
      std::vector<float> w(param_count(c.H));
      train_init(w.data(), c.H, c.seed);
      const size_t len = std::min(c.len, data.size());
      double acc = 0;
      for (int e = 1; e <= 3; ++e) {
        acc += train_epoch(w.data(), data.data(), len, train_lr(e, 4, c.lr_peak), p, isa);
        acc += eval_bpc(w.data(), c.H, data.data(), len, isa);
      }
      hs.push_back(sha256(w));
      bp.push_back(acc);
    }
    std::printf("H=%zu bptt=%d lr_peak=%g clip=%g seed=%u len=%zu: sum(bpc) %.17g sha256 %s\n", c.H,
                c.bptt, static_cast<double>(c.lr_peak), static_cast<double>(c.clip), c.seed,
                std::min(c.len, data.size()), bp[0], hs[0].c_str());
    for (size_t k = 1; k < hs.size(); ++k) {
      char what[80];
      std::snprintf(what, sizeof what, "generalised config: %s%s agrees with %s", isa_name(requested[k]),
                    k < isas.size() ? "" : " (fallback)", isa_name(requested[0]));
      check(hs[k] == hs[0] && bp[k] == bp[0], what);
    }
    if (ref_data && si < 6) {
      check(hs[0] == kShapeSha[si], "generalised config: sha256 as test/train-kernels.test.ts");
      check(bp[0] == kShapeSum[si], "generalised config: sum(bpc) as test/train-kernels.test.ts");
    }
  }
  // Cancellation: a set flag stops the epoch before its first window (NaN result,
  // weights untouched).
  for (Isa isa : requested) {
    std::vector<float> w(param_count(16)), w0;
    train_init(w.data(), 16, 42);
    w0 = w;
    TrainParams p;
    p.H = 16;
    std::atomic<bool> stop{true};
    const double r = train_epoch(w.data(), data.data(), data.size(), 0.01f, p, isa, &stop);
    check(r != r && w == w0, "cancel flag stops the epoch");
  }
  std::printf(failures ? "FAILED (%d)\n" : "ALL CHECKS PASSED\n", failures);
  return failures ? 1 : 0;
}
