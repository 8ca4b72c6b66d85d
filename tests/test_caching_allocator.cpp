// The caching allocator's policy on a fake backend (host memory, events completed by the test):
// size classes, per-stream reuse, record_stream ordering, statistics by category, the
// out-of-memory retry and its error. The CUDA binding is tested in test_cuda_allocator.cpp.
#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include "tensor/caching_allocator.h"
#include "tensor/error.h"

using namespace t5zero;

namespace {

// Host memory with a byte budget; events are completed by the test through `complete_all`.
struct FakeBackend : MemoryBackend {
  struct Counters {
    int64_t budget = 1 << 30;
    int64_t in_use = 0;
    int allocations = 0;
    int releases = 0;
    int synchronizations = 0;
    int events_recorded = 0;
    int events_destroyed = 0;
    std::set<int*> open_events;
    std::set<StreamId> event_streams;
  };
  explicit FakeBackend(Counters& c) : counters(c) {}

  void* allocate(size_t bytes) override {
    if (counters.in_use + static_cast<int64_t>(bytes) > counters.budget) return nullptr;
    counters.in_use += static_cast<int64_t>(bytes);
    ++counters.allocations;
    void* p = std::malloc(bytes + sizeof(size_t));
    *static_cast<size_t*>(p) = bytes;
    return static_cast<char*>(p) + sizeof(size_t);
  }
  void release(void* ptr) override {
    void* base = static_cast<char*>(ptr) - sizeof(size_t);
    counters.in_use -= static_cast<int64_t>(*static_cast<size_t*>(base));
    ++counters.releases;
    std::free(base);
  }
  void* record_event(StreamId stream) override {
    int* e = new int(0);
    counters.open_events.insert(e);
    counters.event_streams.insert(stream);
    ++counters.events_recorded;
    return e;
  }
  bool event_done(void* event) override { return *static_cast<int*>(event) != 0; }
  void destroy_event(void* event) override {
    counters.open_events.erase(static_cast<int*>(event));
    ++counters.events_destroyed;
    delete static_cast<int*>(event);
  }
  void synchronize() override {
    ++counters.synchronizations;
    for (int* e : counters.open_events) *e = 1;
  }
  Counters& counters;
};

void complete_all(FakeBackend::Counters& c) {
  for (int* e : c.open_events) *e = 1;
}

}  // namespace

TEST_CASE("size classes: at least 512 bytes, at most 1/8 slack, eight per power of two") {
  CHECK(allocation_size_class(0) == 512);
  CHECK(allocation_size_class(1) == 512);
  CHECK(allocation_size_class(512) == 512);
  CHECK(allocation_size_class(513) == 1024);
  CHECK(allocation_size_class(4096) == 4096);
  CHECK(allocation_size_class(4097) == 4096 + 512);
  CHECK(allocation_size_class((1 << 20) + 1) == (1 << 20) + (1 << 17));
  for (size_t bytes = 1; bytes < (size_t{1} << 28); bytes = bytes * 3 + 7) {
    CAPTURE(bytes);
    const size_t c = allocation_size_class(bytes);
    CHECK(c >= bytes);
    CHECK(c % 512 == 0);
    if (bytes > 4096) CHECK(static_cast<double>(c - bytes) <= static_cast<double>(bytes) / 8.0);
    CHECK(allocation_size_class(c) == c);  // a class maps to itself
  }
}

TEST_CASE("a freed block is reused by the same size class on the same stream only") {
  FakeBackend::Counters counters;
  CachingAllocator alloc(std::make_unique<FakeBackend>(counters), "fake");
  void* a = alloc.allocate(1000, 1, MemoryCategory::activations);
  alloc.free(a);
  CHECK(alloc.cached_bytes() == 1024);
  // Same class (1000 and 1024 both round to 1024), same stream: the same block.
  void* b = alloc.allocate(1024, 1, MemoryCategory::activations);
  CHECK(b == a);
  CHECK(counters.allocations == 1);
  // Another stream must not get it (its work is not ordered after stream 1's).
  alloc.free(b);
  void* c = alloc.allocate(1024, 2, MemoryCategory::activations);
  CHECK(c != a);
  CHECK(counters.allocations == 2);
  // Another class on the same stream does not either.
  void* d = alloc.allocate(4096, 1, MemoryCategory::activations);
  CHECK(d != a);
  CHECK(counters.allocations == 3);
  const MemoryStats s = alloc.stats();
  CHECK(s.allocations == 4);
  CHECK(s.cache_hits == 1);
  CHECK(s.backend_allocations == 3);
  CHECK(s.allocated_bytes == 1024 + 4096);
  CHECK(s.reserved_bytes == 1024 + 1024 + 4096);
  alloc.free(c);
  alloc.free(d);
  alloc.release_cached();
  CHECK(counters.in_use == 0);
  CHECK(counters.releases == 3);
  CHECK(alloc.stats().reserved_bytes == 0);
  CHECK(alloc.cached_bytes() == 0);
}

TEST_CASE("statistics: requested, allocated, peaks and categories") {
  FakeBackend::Counters counters;
  CachingAllocator alloc(std::make_unique<FakeBackend>(counters), "fake");
  void* p = alloc.allocate(3000, 0, MemoryCategory::parameters);     // class 3072
  void* g = alloc.allocate(10000, 0, MemoryCategory::gradients);     // class 10240
  void* a = alloc.allocate(100000, 0, MemoryCategory::activations);  // class 13 · 8192 = 106496
  MemoryStats s = alloc.stats();
  CHECK(s.requested_bytes == 113000);
  CHECK(s.allocated_bytes == 3072 + 10240 + 106496);
  CHECK(s.allocated_by_category[static_cast<size_t>(MemoryCategory::parameters)] == 3072);
  CHECK(s.allocated_by_category[static_cast<size_t>(MemoryCategory::gradients)] == 10240);
  CHECK(s.allocated_by_category[static_cast<size_t>(MemoryCategory::activations)] == 106496);
  alloc.free(a);
  s = alloc.stats();
  CHECK(s.allocated_bytes == 3072 + 10240);
  CHECK(s.peak_allocated_bytes == 3072 + 10240 + 106496);
  CHECK(s.allocated_by_category[static_cast<size_t>(MemoryCategory::activations)] == 0);
  CHECK(s.peak_by_category[static_cast<size_t>(MemoryCategory::activations)] == 106496);
  CHECK(s.reserved_bytes == 3072 + 10240 + 106496);  // the freed block stays cached
  alloc.reset_peaks();
  s = alloc.stats();
  CHECK(s.peak_allocated_bytes == 3072 + 10240);
  CHECK(s.peak_by_category[static_cast<size_t>(MemoryCategory::activations)] == 0);
  alloc.free(p);
  alloc.free(g);
  CHECK(alloc.stats().requested_bytes == 0);
  CHECK(alloc.stats().allocated_bytes == 0);
}

TEST_CASE("the category scope tags allocations and nests") {
  CHECK(MemoryCategoryScope::current() == MemoryCategory::other);
  {
    MemoryCategoryScope outer(MemoryCategory::parameters);
    CHECK(MemoryCategoryScope::current() == MemoryCategory::parameters);
    {
      MemoryCategoryScope inner(MemoryCategory::optimizer_state);
      CHECK(MemoryCategoryScope::current() == MemoryCategory::optimizer_state);
    }
    CHECK(MemoryCategoryScope::current() == MemoryCategory::parameters);
  }
  CHECK(MemoryCategoryScope::current() == MemoryCategory::other);
  CHECK(std::string(memory_category_name(MemoryCategory::optimizer_state)) == "optimizer_state");
}

TEST_CASE("record_stream: a block used on another stream waits for that stream's events") {
  FakeBackend::Counters counters;
  CachingAllocator alloc(std::make_unique<FakeBackend>(counters), "fake");
  void* a = alloc.allocate(2048, 1, MemoryCategory::communication);
  alloc.record_stream(a, 7);
  alloc.record_stream(a, 7);  // recorded once
  alloc.record_stream(a, 1);  // its own stream: nothing to wait for
  alloc.free(a);
  CHECK(counters.events_recorded == 1);
  CHECK(counters.event_streams == std::set<StreamId>{7});
  // Stream 7 has not reached the event: the block is not reusable yet.
  CHECK(alloc.cached_bytes() == 0);
  void* b = alloc.allocate(2048, 1, MemoryCategory::communication);
  CHECK(b != a);
  complete_all(counters);
  void* c = alloc.allocate(2048, 1, MemoryCategory::communication);
  CHECK(c == a);  // collected from pending once its event completed
  CHECK(counters.events_destroyed == 1);
  alloc.free(b);
  alloc.free(c);
}

TEST_CASE("out of memory: the cache is emptied and the request retried, then a clear error") {
  FakeBackend::Counters counters;
  counters.budget = 64 * 1024;
  CachingAllocator alloc(std::make_unique<FakeBackend>(counters), "fake:0");
  void* a = alloc.allocate(40 * 1024, 3, MemoryCategory::activations);
  alloc.free(a);  // cached on stream 3
  // 40 KiB cached + 40 KiB new exceeds the budget: the retry frees the cached block first.
  void* b = alloc.allocate(40 * 1024, 4, MemoryCategory::gradients);
  CHECK(b != nullptr);
  MemoryStats s = alloc.stats();
  CHECK(s.out_of_memory_retries == 1);
  CHECK(counters.synchronizations == 1);
  CHECK(s.reserved_bytes == 40 * 1024);
  CHECK(s.backend_releases == 1);
  // Nothing cached to give back now: the error names the allocator, the request and the holder.
  try {
    alloc.allocate(60 * 1024, 4, MemoryCategory::parameters);
    FAIL("expected an out-of-memory error");
  } catch (const Error& e) {
    const std::string message = e.what();
    CAPTURE(message);
    CHECK(message.find("fake:0: out of memory allocating 61440 bytes") != std::string::npos);
    CHECK(message.find("for parameters") != std::string::npos);
    CHECK(message.find("gradients 40960 bytes") != std::string::npos);
  }
  alloc.free(b);
}

TEST_CASE("freeing an unknown pointer is an error; nullptr is ignored") {
  FakeBackend::Counters counters;
  CachingAllocator alloc(std::make_unique<FakeBackend>(counters), "fake");
  int local = 0;
  CHECK_THROWS_WITH_AS(alloc.free(&local), doctest::Contains("did not allocate"), Error);
  alloc.free(nullptr);
  CHECK(alloc.stats().allocations == 0);
}
