#include "tensor/cpu/host_allocator.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "tensor/error.h"

namespace t5zero::cpu {

namespace {

constexpr size_t kHostAlignment = 64;

class AlignedHostMemory : public MemoryBackend {
 public:
  void* allocate(size_t bytes) override {
    return std::aligned_alloc(kHostAlignment,
                              (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment);
  }
  void release(void* ptr) override { std::free(ptr); }
  // Host work is synchronous: a freed block is free at once, and no stream but 0 is used.
  void* record_event(StreamId) override { return nullptr; }
  bool event_done(void*) override { return true; }
  void destroy_event(void*) override {}
  void synchronize() override {}
};

// Idle cached bytes above this go back to the system: a quarter of physical memory (at least
// 1 GiB), so a run whose block sizes keep changing cannot hoard the host's memory.
int64_t idle_cache_limit() {
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  const int64_t physical = pages > 0 && page_size > 0 ? int64_t{pages} * page_size : 0;
  return std::max<int64_t>(int64_t{1} << 30, physical / 4);
}

}  // namespace

// Never destroyed: storages freed during static destruction must still find their allocator.
CachingAllocator& host_block_cache() {
  static CachingAllocator* cache =
      new CachingAllocator(std::make_unique<AlignedHostMemory>(), "host");
  return *cache;
}

void* host_allocate(size_t nbytes) {
  if (nbytes >= kCachedHostBytes) {
    return host_block_cache().allocate(nbytes, 0, MemoryCategoryScope::current());
  }
  void* ptr = std::aligned_alloc(
      kHostAlignment,
      std::max(kHostAlignment, (nbytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment));
  T5_CHECK(ptr != nullptr, "out of host memory allocating ", nbytes, " bytes");
  return ptr;
}

void host_free(void* ptr, size_t nbytes) {
  if (nbytes < kCachedHostBytes) {
    std::free(ptr);
    return;
  }
  CachingAllocator& cache = host_block_cache();
  cache.free(ptr);
  static const int64_t limit = idle_cache_limit();
  if (cache.cached_bytes() > limit) cache.release_cached();
}

}  // namespace t5zero::cpu
