// layout(H): the raw sat-rnn parameter layout (00-common §1), generalised to any hidden
// size H: Wx[H][256], Wh[H][H], bh[H], Wy[256][H], by[256], row-major, back to back.
// The one place in native code that knows the offsets (lib/engine/layout.ts is its twin).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/cpu.h"

namespace satrnn {

constexpr int kVocab = 256;

struct Layout {
  size_t H, Wx, Wh, bh, Wy, by, count;  // float offsets of each array, and the total
};
inline Layout layout(size_t H) {
  const size_t wh = H * kVocab, bh = wh + H * H, wy = bh + H, by = wy + kVocab * H;
  return {H, 0, wh, bh, wy, by, by + kVocab};
}
inline size_t param_count(size_t H) { return layout(H).count; }

// Views of the five arrays of one parameter array (F = const float: read-only).
template <typename F>
struct ParamViews {
  size_t H;
  F* Wx;  // [H][256]
  F* Wh;  // [H][H]
  F* bh;  // [H]
  F* Wy;  // [256][H]
  F* by;  // [256]

  ParamViews(F* p, size_t h) : H(h) {
    const Layout l = layout(h);
    Wx = p + l.Wx;
    Wh = p + l.Wh;
    bh = p + l.bh;
    Wy = p + l.Wy;
    by = p + l.by;
  }
};
using ModelView = ParamViews<const float>;

}  // namespace satrnn
