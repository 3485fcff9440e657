// Large buffers (job copies, chunk scratch) on transparent huge pages where the OS offers
// them. Why: on the VMs this runs on, the first touch of every 4 KiB page traps to the
// hypervisor (~10-15 us each); a 2 MiB huge page is one fault. Measured here: 2 MiB of
// fresh memory written in ~7 ms with 4 KiB pages, ~0.2 ms on a huge page. A fresh
// `satrnn reproduce q3_neurons` touched ~1,000 pages of native buffers (~12 ms).
//
// A big block is a 2 MiB-aligned mapping of whole 2 MiB units with madvise(MADV_HUGEPAGE),
// which takes effect when Linux's THP setting is "always" or "madvise" (the usual default);
// otherwise it is ordinary memory. Other systems and the sanitizer build (AddressSanitizer
// watches malloc'd blocks, not mappings) use aligned_alloc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#define SATRNN_BIG_MMAP 1
#include <sys/mman.h>
#else
#define SATRNN_BIG_MMAP 0
#endif

namespace satrnn {

constexpr size_t kHugePage = size_t{2} << 20;
// Buffers from this size on are big blocks: 32 faults of 4 KiB pages (~0.4 ms here) cost
// more than zeroing a whole huge page (~0.1-0.2 ms); below it the 2 MiB rounding does not pay.
// The price is memory: a 128 KiB buffer holds 2 MiB (the job pool keeps at most 64 MiB idle).
constexpr size_t kBigMin = size_t{128} << 10;

// Whether a block of this capacity came from big_alloc: big blocks are whole huge pages, every
// other block is smaller than kBigMin.
inline bool is_big(size_t cap) { return cap >= kHugePage; }

// The capacity a big block of `bytes` gets (0 on overflow).
inline size_t big_capacity(size_t bytes) {
  const size_t cap = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  return cap < bytes ? 0 : cap;
}

// A 64-byte-aligned (at least) block of big_capacity(bytes) bytes, zero-filled on first
// touch when mapped; throws std::bad_alloc. Free it with big_free(p, big_capacity(bytes)).
inline void* big_alloc(size_t bytes) {
  const size_t cap = big_capacity(bytes);
  if (cap == 0 || cap + kHugePage < cap) throw std::bad_alloc();
#if SATRNN_BIG_MMAP
  // Map one huge page more than needed, then unmap the unaligned head and the tail, so the
  // block is exactly [p, p + cap) and starts on a huge-page boundary.
  const size_t span = cap + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t p = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (p > start) munmap(raw, p - start);
  if (start + span > p + cap) munmap(reinterpret_cast<void*>(p + cap), start + span - (p + cap));
  madvise(reinterpret_cast<void*>(p), cap, MADV_HUGEPAGE);  // a hint: failure leaves 4 KiB pages
  return reinterpret_cast<void*>(p);
#else
  void* p = std::aligned_alloc(64, cap);
  if (!p) throw std::bad_alloc();
  return p;
#endif
}

inline void big_free(void* p, size_t cap) {
  if (!p) return;
#if SATRNN_BIG_MMAP
  munmap(p, cap);
#else
  (void)cap;
  std::free(p);
#endif
}

// Frees a block of capacity `cap` that came from big_alloc (whole huge pages: is_big) or
// from std::aligned_alloc (every smaller block).
inline void free_block(void* p, size_t cap) {
  if (is_big(cap)) big_free(p, cap);
  else std::free(p);
}

// A growable big buffer of T (uninitialised), e.g. a thread's scratch reused across calls.
template <typename T>
class BigBuffer {
 public:
  BigBuffer() = default;
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;
  ~BigBuffer() { release(); }
  // At least n elements; the contents are not kept when it grows.
  T* reserve(size_t n) {
    if (n == 0) return p_;
    if (n > cap_ / sizeof(T)) {
      release();
      if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
      const size_t bytes = n * sizeof(T);
      cap_ = bytes >= kBigMin ? big_capacity(bytes) : bytes;
      p_ = static_cast<T*>(bytes >= kBigMin ? big_alloc(bytes) : std::aligned_alloc(64, (bytes + 63) / 64 * 64));
      if (!p_) {
        cap_ = 0;
        throw std::bad_alloc();
      }
    }
    return p_;
  }
  size_t capacity_bytes() const { return cap_; }
  void release() {
    free_block(p_, cap_);
    p_ = nullptr;
    cap_ = 0;
  }

 private:
  T* p_ = nullptr;
  size_t cap_ = 0;
};

}  // namespace satrnn
