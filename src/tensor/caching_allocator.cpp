#include "tensor/caching_allocator.h"

#include <algorithm>
#include <bit>
#include <sstream>

#include "tensor/error.h"

namespace t5zero {

namespace {
thread_local MemoryCategory current_category = MemoryCategory::other;

constexpr size_t kMinimumBlock = 512;
constexpr size_t kClassesPerPowerOfTwo = 8;

std::string bytes_str(int64_t bytes) {
  std::ostringstream out;
  out.precision(3);
  if (bytes >= (int64_t{1} << 30)) {
    out << std::fixed << static_cast<double>(bytes) / static_cast<double>(int64_t{1} << 30)
        << " GiB";
  } else if (bytes >= (int64_t{1} << 20)) {
    out << std::fixed << static_cast<double>(bytes) / static_cast<double>(int64_t{1} << 20)
        << " MiB";
  } else {
    out << bytes << " bytes";
  }
  return out.str();
}
}  // namespace

const char* memory_category_name(MemoryCategory category) {
  switch (category) {
    case MemoryCategory::other:
      return "other";
    case MemoryCategory::parameters:
      return "parameters";
    case MemoryCategory::gradients:
      return "gradients";
    case MemoryCategory::optimizer_state:
      return "optimizer_state";
    case MemoryCategory::activations:
      return "activations";
    case MemoryCategory::communication:
      return "communication";
    case MemoryCategory::workspace:
      return "workspace";
  }
  return "?";
}

MemoryCategoryScope::MemoryCategoryScope(MemoryCategory category) : previous_(current_category) {
  current_category = category;
}

MemoryCategoryScope::~MemoryCategoryScope() {
  current_category = previous_;
}

MemoryCategory MemoryCategoryScope::current() {
  return current_category;
}

size_t allocation_size_class(size_t bytes) {
  if (bytes <= kMinimumBlock) return kMinimumBlock;
  const size_t granule = std::max(kMinimumBlock, std::bit_floor(bytes) / kClassesPerPowerOfTwo);
  return (bytes + granule - 1) / granule * granule;
}

CachingAllocator::CachingAllocator(std::unique_ptr<MemoryBackend> backend, std::string name)
    : backend_(std::move(backend)), name_(std::move(name)) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (PendingBlock& p : pending_) {
    for (void* e : p.events) backend_->destroy_event(e);
    backend_->release(p.ptr);
  }
  pending_.clear();
  release_cached_locked();
}

void* CachingAllocator::take_from_bin_locked(const Bin& bin) {
  auto it = bins_.find(bin);
  if (it == bins_.end() || it->second.empty()) return nullptr;
  void* ptr = it->second.back();
  it->second.pop_back();
  if (it->second.empty()) bins_.erase(it);
  cached_bytes_ -= static_cast<int64_t>(bin.second);
  return ptr;
}

void CachingAllocator::return_to_bin_locked(void* ptr, const Block& block) {
  bins_[Bin{block.stream, block.size}].push_back(ptr);
  cached_bytes_ += static_cast<int64_t>(block.size);
}

// Blocks whose events have all completed go back to their bins.
void CachingAllocator::collect_pending_locked() {
  auto done = [&](PendingBlock& p) {
    for (void* e : p.events) {
      if (!backend_->event_done(e)) return false;
    }
    for (void* e : p.events) backend_->destroy_event(e);
    return_to_bin_locked(p.ptr, p.block);
    return true;
  };
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(), done), pending_.end());
}

void CachingAllocator::release_cached_locked() {
  for (auto& [bin, ptrs] : bins_) {
    for (void* ptr : ptrs) {
      backend_->release(ptr);
      stats_.reserved_bytes -= static_cast<int64_t>(bin.second);
      ++stats_.backend_releases;
    }
  }
  bins_.clear();
  cached_bytes_ = 0;
}

void CachingAllocator::fail_out_of_memory_locked(size_t bytes, size_t size,
                                                 MemoryCategory category) const {
  std::ostringstream out;
  out << name_ << ": out of memory allocating " << bytes_str(static_cast<int64_t>(bytes))
      << " (block of " << bytes_str(static_cast<int64_t>(size)) << ") for "
      << memory_category_name(category) << "; allocated " << bytes_str(stats_.allocated_bytes)
      << ", reserved " << bytes_str(stats_.reserved_bytes) << " (cache already emptied)";
  out << "; live by category:";
  for (size_t c = 0; c < kMemoryCategoryCount; ++c) {
    if (stats_.allocated_by_category[c] == 0) continue;
    out << " " << memory_category_name(static_cast<MemoryCategory>(c)) << " "
        << bytes_str(stats_.allocated_by_category[c]);
  }
  fail(out.str());
}

void* CachingAllocator::allocate(size_t bytes, StreamId stream, MemoryCategory category) {
  const size_t size = allocation_size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  if (!pending_.empty()) collect_pending_locked();
  void* ptr = take_from_bin_locked(Bin{stream, size});
  if (ptr != nullptr) {
    ++stats_.cache_hits;
  } else {
    ptr = backend_->allocate(size);
    if (ptr == nullptr) {
      // Cached blocks of other sizes and streams may hold the memory this request needs.
      ++stats_.out_of_memory_retries;
      backend_->synchronize();
      collect_pending_locked();
      release_cached_locked();
      ptr = backend_->allocate(size);
      if (ptr == nullptr) fail_out_of_memory_locked(bytes, size, category);
    }
    ++stats_.backend_allocations;
    stats_.reserved_bytes += static_cast<int64_t>(size);
    stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  }
  live_.emplace(ptr, Block{size, bytes, stream, category, {}});
  const size_t c = static_cast<size_t>(category);
  stats_.allocated_bytes += static_cast<int64_t>(size);
  stats_.requested_bytes += static_cast<int64_t>(bytes);
  stats_.allocated_by_category[c] += static_cast<int64_t>(size);
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  stats_.peak_by_category[c] =
      std::max(stats_.peak_by_category[c], stats_.allocated_by_category[c]);
  return ptr;
}

void CachingAllocator::free(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  T5_CHECK(it != live_.end(), name_, ": free of a pointer this allocator did not allocate");
  Block block = std::move(it->second);
  live_.erase(it);
  stats_.allocated_bytes -= static_cast<int64_t>(block.size);
  stats_.requested_bytes -= static_cast<int64_t>(block.requested);
  stats_.allocated_by_category[static_cast<size_t>(block.category)] -=
      static_cast<int64_t>(block.size);
  if (block.used_on.empty()) {
    return_to_bin_locked(ptr, block);
    return;
  }
  PendingBlock pending{ptr, std::move(block), {}};
  for (StreamId s : pending.block.used_on) pending.events.push_back(backend_->record_event(s));
  pending.block.used_on.clear();
  pending_.push_back(std::move(pending));
}

void CachingAllocator::record_stream(void* ptr, StreamId stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  T5_CHECK(it != live_.end(), name_,
           ": record_stream of a pointer this allocator did not allocate");
  Block& block = it->second;
  if (stream == block.stream) return;  // its own stream orders it already
  if (std::find(block.used_on.begin(), block.used_on.end(), stream) == block.used_on.end()) {
    block.used_on.push_back(stream);
  }
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  collect_pending_locked();
  release_cached_locked();
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peaks() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
  stats_.peak_by_category = stats_.allocated_by_category;
}

int64_t CachingAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_bytes_;
}

}  // namespace t5zero
