// A stream-ordered caching allocator: freed blocks are kept in size-class bins per stream and
// handed out again without asking the backend (cudaMalloc, cudaHostAlloc) for memory, with
// statistics by category. The policy is backend-agnostic, so it is tested on the CPU with a fake
// backend; src/tensor/cuda/device_allocator.h binds it to CUDA device and pinned host memory.
//
// Stream order: a block freed on stream S is reused only by allocations on S, whose later work
// runs after the work that last used the block (as PyTorch's CUDACachingAllocator). A block also
// used on other streams is marked with record_stream; when it is freed, an event is recorded on
// each of those streams, and the block returns to its bin only once every event has completed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace t5zero {

// What an allocation is for, so peak memory can be reported by component.
enum class MemoryCategory : uint8_t {
  other,
  parameters,
  gradients,
  optimizer_state,
  activations,
  communication,
  workspace,
};
constexpr size_t kMemoryCategoryCount = 7;
const char* memory_category_name(MemoryCategory category);

// Allocations made by this thread inside the scope are counted under `category`; scopes nest.
class MemoryCategoryScope {
 public:
  explicit MemoryCategoryScope(MemoryCategory category);
  ~MemoryCategoryScope();
  MemoryCategoryScope(const MemoryCategoryScope&) = delete;
  MemoryCategoryScope& operator=(const MemoryCategoryScope&) = delete;
  // The innermost active scope's category on this thread (other outside any scope).
  static MemoryCategory current();

 private:
  MemoryCategory previous_;
};

// Byte counts use block sizes (the size class), except requested_bytes.
struct MemoryStats {
  int64_t allocated_bytes = 0;  // in live blocks
  int64_t requested_bytes = 0;  // what the live blocks were asked for
  int64_t reserved_bytes = 0;   // held from the backend: live plus cached blocks
  int64_t peak_allocated_bytes = 0;
  int64_t peak_reserved_bytes = 0;
  int64_t allocations = 0;            // calls to allocate
  int64_t cache_hits = 0;             // of those, served from a bin
  int64_t backend_allocations = 0;    // blocks obtained from the backend
  int64_t backend_releases = 0;       // blocks given back to it
  int64_t out_of_memory_retries = 0;  // times the cache was emptied to satisfy a request
  std::array<int64_t, kMemoryCategoryCount> allocated_by_category{};
  std::array<int64_t, kMemoryCategoryCount> peak_by_category{};
};

// A stream of the backend (cudaStream_t as an integer; 0 is the default stream).
using StreamId = uintptr_t;

// The memory and ordering primitives the allocator needs.
class MemoryBackend {
 public:
  virtual ~MemoryBackend() = default;
  // nullptr when the backend is out of memory.
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr) = 0;
  // An event marking the work submitted to `stream` so far.
  virtual void* record_event(StreamId stream) = 0;
  virtual bool event_done(void* event) = 0;
  virtual void destroy_event(void* event) = 0;
  // Waits for all submitted work (before cached blocks are given back on out-of-memory).
  virtual void synchronize() = 0;
};

// Requests are rounded up to a size class: at least 512 bytes, then eight classes per power of
// two (a granule of 1/8 of the power of two below the size), so at most 1/8 of a block is slack
// and blocks of recurring sizes (a layer's activations, a gathered parameter) are reused exactly.
size_t allocation_size_class(size_t bytes);

class CachingAllocator {
 public:
  // `name` appears in errors ("cuda:0", "pinned host").
  CachingAllocator(std::unique_ptr<MemoryBackend> backend, std::string name);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes` (0 gives a minimal block) for use on `stream`. When the backend
  // is out of memory, waits for all work, gives every cached block back and retries once; then
  // throws an Error with the request, the statistics and the categories holding memory.
  void* allocate(size_t bytes, StreamId stream, MemoryCategory category);
  // Returns a block from allocate; nullptr is ignored; an unknown pointer is an error.
  void free(void* ptr);
  // The block is also used by work on `stream`: when freed, it is reused only after that work.
  void record_stream(void* ptr, StreamId stream);
  // Gives every cached (free) block back to the backend; blocks still awaiting events stay.
  void release_cached();

  MemoryStats stats() const;
  // Peaks restart from the current values.
  void reset_peaks();
  // Bytes in free blocks of the bins (reserved - allocated - awaiting events).
  int64_t cached_bytes() const;

 private:
  struct Block {
    size_t size = 0;
    size_t requested = 0;
    StreamId stream = 0;
    MemoryCategory category = MemoryCategory::other;
    std::vector<StreamId> used_on;  // other streams, from record_stream
  };
  struct PendingBlock {
    void* ptr;
    Block block;
    std::vector<void*> events;
  };
  using Bin = std::pair<StreamId, size_t>;  // (stream, size class)

  void collect_pending_locked();
  void release_cached_locked();
  void* take_from_bin_locked(const Bin& bin);
  void return_to_bin_locked(void* ptr, const Block& block);
  [[noreturn]] void fail_out_of_memory_locked(size_t bytes, size_t size,
                                              MemoryCategory category) const;

  std::unique_ptr<MemoryBackend> backend_;
  std::string name_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, Block> live_;
  std::map<Bin, std::vector<void*>> bins_;
  int64_t cached_bytes_ = 0;  // in bins_
  std::vector<PendingBlock> pending_;
  MemoryStats stats_;
};

}  // namespace t5zero
