// Job-owned memory (see "Memory of async jobs" in napi/args.h): the copies of the inputs
// and the outputs of every async job come from one process-wide pool of blocks that stay
// touched between jobs. On this machine class a freshly touched 4 KiB page costs ~10 us
// (the VM hands freed pages back), so allocating a chunk's job memory afresh each call
// would cost more than copying it; with the pool a chunk's copies cost memcpy speed.
// Blocks below kPoolMin bytes come from malloc directly (its free lists reuse them without
// faults); at most kKeepBytes of idle large blocks are kept (least recently released go
// first). The sanitizer build keeps none, so AddressSanitizer sees every block freed after
// its job. Blocks from kBigMin on are whole huge pages (core/big_alloc.h): the first job of a
// process faults them in at ~1/30 of the cost of 4 KiB pages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <list>
#include <mutex>
#include <new>
#include <utility>

#include "core/big_alloc.h"

namespace satrnn::napi {

class BlockPool {
 public:
#if defined(__SANITIZE_ADDRESS__)
  static constexpr size_t kKeepBytes = 0;
#else
  // The engine's chunk memory budget (lib/engine/evaluate.ts CHUNK_MEMORY_BUDGET).
  static constexpr size_t kKeepBytes = size_t{64} << 20;
#endif
  static constexpr size_t kAlign = 64;
  static constexpr size_t kGranule = 4096;
  static constexpr size_t kPoolMin = size_t{64} << 10;

  struct Block {
    uint8_t* p = nullptr;
    size_t cap = 0;
  };

  // One pool for the process (all addon instances, all threads). Never destroyed: a job
  // may still release a block while the process exits.
  static BlockPool& instance() {
    static BlockPool* pool = new BlockPool();
    return *pool;
  }

  // A block of at least `bytes` (uninitialised; 64-byte aligned); throws std::bad_alloc.
  Block get(size_t bytes) {
    if (bytes < kPoolMin) {
      const size_t cap = bytes == 0 ? kAlign : ((bytes + kAlign - 1) / kAlign) * kAlign;
      void* p = std::aligned_alloc(kAlign, cap);
      if (!p) throw std::bad_alloc();
      return {static_cast<uint8_t*>(p), cap};
    }
    const size_t cap = bytes >= kBigMin ? big_capacity(bytes) : ((bytes + kGranule - 1) / kGranule) * kGranule;
    if (cap < bytes) throw std::bad_alloc();
    {
      std::lock_guard<std::mutex> lock(mu_);
      // The smallest idle block that fits.
      auto best = idle_.end();
      for (auto it = idle_.begin(); it != idle_.end(); ++it)
        if (it->cap >= cap && (best == idle_.end() || it->cap < best->cap)) best = it;
      if (best != idle_.end()) {
        Block b = *best;
        kept_ -= b.cap;
        idle_.erase(best);
        return b;
      }
    }
    if (is_big(cap)) return {static_cast<uint8_t*>(big_alloc(bytes)), cap};
    void* p = std::aligned_alloc(kAlign, cap);
    if (!p) throw std::bad_alloc();
    return {static_cast<uint8_t*>(p), cap};
  }

  void put(Block b) {
    if (!b.p) return;
    if (b.cap < kPoolMin || b.cap > kKeepBytes) {
      free_block(b.p, b.cap);
      return;
    }
    std::list<Block> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (kept_ + b.cap > kKeepBytes && !idle_.empty()) {
        kept_ -= idle_.front().cap;
        drop.splice(drop.end(), idle_, idle_.begin());
      }
      idle_.push_back(b);
      kept_ += b.cap;
    }
    for (Block& d : drop) free_block(d.p, d.cap);
  }

 private:
  BlockPool() = default;
  std::mutex mu_;
  std::list<Block> idle_;  // oldest release first
  size_t kept_ = 0;
};

// A pooled block owned by one job (move-only); returned to the pool when destroyed.
class PooledBlock {
 public:
  explicit PooledBlock(size_t bytes) : b_(BlockPool::instance().get(bytes)) {}
  PooledBlock(PooledBlock&& o) noexcept : b_(std::exchange(o.b_, BlockPool::Block{})) {}
  PooledBlock& operator=(PooledBlock&& o) noexcept {
    if (this != &o) {
      BlockPool::instance().put(b_);
      b_ = std::exchange(o.b_, BlockPool::Block{});
    }
    return *this;
  }
  PooledBlock(const PooledBlock&) = delete;
  PooledBlock& operator=(const PooledBlock&) = delete;
  ~PooledBlock() { BlockPool::instance().put(b_); }
  uint8_t* data() const { return b_.p; }

 private:
  BlockPool::Block b_;
};

}  // namespace satrnn::napi
