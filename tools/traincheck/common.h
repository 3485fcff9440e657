// Shared by the hand-run trainer checks (train_check.cc, train_fast_bench.cc).
#pragma once
#include <cstdint>
#include <cstdio>
#include <vector>

#include "kernels/train.h"

namespace traincheck {

inline int failures = 0;

inline void check(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::printf("  CHECK FAILED: %s\n", what);
  }
}

// The whole file; false (after perror) if it cannot be opened.
inline bool read_file(const char* file, std::vector<uint8_t>* data) {
  FILE* f = std::fopen(file, "rb");
  if (!f) {
    std::perror(file);
    return false;
  }
  for (int c; (c = std::fgetc(f)) != EOF;) data->push_back(static_cast<uint8_t>(c));
  std::fclose(f);
  return true;
}

// A training shape beyond the original's: 3 epochs of a 4-epoch schedule on the first
// `len` data bytes.
struct Shape {
  size_t H;
  int bptt;
  float lr_peak, clip;
  uint32_t seed;
  size_t len;
  satrnn::TrainParams params() const {
    satrnn::TrainParams p;
    p.H = H;
    p.bptt = bptt;
    p.lr_peak = lr_peak;
    p.clip = clip;
    return p;
  }
};
// The shapes both tools run (train_check's hashes are test/train-kernels.test.ts's values).
inline const std::vector<Shape> kShapes = {{1, 50, 0.01f, 5.0f, 42, 1024},  {5, 3, 0.05f, 1.0f, 7, 300},
                                           {13, 17, 0.02f, 2.0f, 1, 1024},  {100, 50, 0.01f, 5.0f, 42, 1024},
                                           {128, 1, 0.01f, 5.0f, 42, 200},  {37, 200, 0.1f, 0.5f, 3, 1000}};

}  // namespace traincheck
