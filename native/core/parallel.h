// Threads and tiling: the one place that decides how a batch is cut into tiles and how
// many threads run them. Which thread runs which tile never changes a result: tiles are
// independent and every sum inside a tile runs in the spec's order.
#pragma once
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace satrnn {

// Upper bound on worker threads per call (also enforced on the JS side).
constexpr unsigned kMaxThreads = 256;

// Runs body(i, w) for every i in [0, n) on min(threads, n) threads, the calling thread being
// one of them (w = 0; the others 1, 2, ...: an index for per-thread buffers); items are
// taken in order from a shared counter. Once `cancel` is set no new item starts. The first
// exception thrown by body is rethrown after every thread joined.
inline void parallel_for_workers(size_t n, unsigned threads, std::atomic<bool>& cancel,
                                 const std::function<void(size_t, unsigned)>& body) {
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex mu;
  auto run = [&](unsigned worker) {
    try {
      for (;;) {
        if (cancel.load(std::memory_order_relaxed)) return;
        const size_t i = next.fetch_add(1);
        if (i >= n) return;
        body(i, worker);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!failure) failure = std::current_exception();
      cancel.store(true);
    }
  };
  const size_t nt = threads < n ? threads : n;
  std::vector<std::thread> pool;
  for (size_t i = 1; i < nt; ++i) {
    try {
      pool.emplace_back(run, static_cast<unsigned>(i));
    } catch (const std::system_error&) {
      break;  // no more threads to be had (a pids limit, say): carry on with fewer
    }
  }
  run(0);
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

// parallel_for_workers without the worker index.
inline void parallel_for(size_t n, unsigned threads, std::atomic<bool>& cancel, const std::function<void(size_t)>& body) {
  parallel_for_workers(n, threads, cancel, [&](size_t i, unsigned) { body(i); });
}

// How a readout batch of V variants x T positions is cut into tiles for `threads` threads.
struct ReadoutTiling {
  bool split_positions;  // tiles are position ranges over all variants (else variant ranges over all positions)
  size_t tile;           // positions (or variants) per tile
  size_t tiles;
};

// With fewer than this many variants per thread, tiles are position ranges: every position's
// full sums (the certified readout's shared work, worth ~1 variant each) are then computed
// once in total instead of once per variant tile, and threads get equal work.
constexpr size_t kSplitPositionsBelowVariantsPerThread = 64;
// Tiles per thread when splitting positions, or many variants: small enough to balance
// load when one thread is slowed down, large enough that a tile amortises its set-up.
constexpr size_t kTilesPerThread = 4;
// Up to this many variants, variant tiles are one per thread (each tile computes every
// position's full sums once, so fewer tiles means less repeated work).
constexpr size_t kOneVariantTilePerThreadBelow = 512;

inline ReadoutTiling readout_tiling(size_t V, size_t T, unsigned threads) {
  ReadoutTiling r{};
  r.split_positions = threads > 1 && T >= 2 * threads && V < kSplitPositionsBelowVariantsPerThread * threads;
  const size_t per = r.split_positions ? kTilesPerThread * threads
                                       : (V < kOneVariantTilePerThreadBelow ? threads : kTilesPerThread * threads);
  const size_t span = r.split_positions ? T : V;
  r.tile = span == 0 ? 1 : (span + per - 1) / per;
  r.tiles = span == 0 ? 0 : (span + r.tile - 1) / r.tile;
  return r;
}

// Position tiles of a readout that follows a running recurrence: small enough that the
// readers start soon after it and finish soon after it ends, large enough to amortise a
// tile's set-up (its variants' plans).
constexpr size_t kPipelineTilesPerThread = 16;
constexpr size_t kPipelineMinTile = 16;

inline ReadoutTiling pipelined_tiling(size_t T, unsigned threads) {
  ReadoutTiling r{};
  r.split_positions = true;
  const size_t want = (T + kPipelineTilesPerThread * threads - 1) / (kPipelineTilesPerThread * threads);
  r.tile = want < kPipelineMinTile ? kPipelineMinTile : want;
  r.tiles = T == 0 ? 0 : (T + r.tile - 1) / r.tile;
  return r;
}

// Fused groups: when the recurrences are at least as many as the threads (every thread is
// busy with one anyway), a group with few readout variants is one job that runs its
// dynamics a block of positions at a time into a small per-thread buffer and reads each
// block out while it is still in cache (no chunk-sized state arrays to fault in and
// stream back). Groups with more variants keep separate readout tiles, which balance the
// threads' load...
constexpr size_t kFuseMaxVariants = 8;
// ... and any group once there are this many per thread (a long job then cannot hold up
// the others for long).
constexpr size_t kFuseAllFromGroupsPerThread = 4;
// Positions per block: 256 x H floats (128 KB at H = 128) stay in L2 between the
// recurrence and the readout, and the dynamics call's set-up (packing Wh, ~1 % of a block
// of 128) is amortised.
constexpr size_t kFuseBlock = 256;

}  // namespace satrnn
