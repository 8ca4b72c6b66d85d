// Host memory of CPU tensors (tensor/cpu/host_allocator.h): alignment, reuse of large blocks,
// zeros() really zero on a reused block, and the cache given back.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>

#include "tensor/cpu/host_allocator.h"
#include "tensor/tensor.h"

using namespace t5zero;

TEST_CASE("blocks are 64-byte aligned, small and large") {
  for (size_t bytes : {size_t{1}, size_t{63}, size_t{4096}, cpu::kCachedHostBytes - 1,
                       cpu::kCachedHostBytes, size_t{3} << 20}) {
    CAPTURE(bytes);
    void* p = cpu::host_allocate(bytes);
    CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
    std::memset(p, 0xab, bytes);  // the whole request is writable
    cpu::host_free(p, bytes);
  }
}

TEST_CASE("a freed large block is handed out again for the same size") {
  const size_t bytes = (size_t{5} << 20) + 12345;
  const MemoryStats before = cpu::host_block_cache().stats();
  void* first = cpu::host_allocate(bytes);
  cpu::host_free(first, bytes);
  void* second = cpu::host_allocate(bytes);
  CHECK(second == first);
  const MemoryStats after = cpu::host_block_cache().stats();
  CHECK(after.allocations - before.allocations == 2);
  CHECK(after.cache_hits - before.cache_hits >= 1);
  cpu::host_free(second, bytes);
}

TEST_CASE("zeros() and full() on a reused, dirty block hold their values") {
  const Shape shape{1024, 1024};  // 4 MiB of f32: a cached block
  {
    Tensor dirty = Tensor::empty(shape, DType::f32);
    dirty.fill_(7.5);
  }
  Tensor z = Tensor::zeros(shape, DType::f32);
  const float* p = z.data<float>();
  int64_t nonzero = 0;
  for (int64_t i = 0; i < z.numel(); ++i) nonzero += p[i] != 0.0f;
  CHECK(nonzero == 0);
  Tensor full = Tensor::full(shape, -2.0, DType::f32);
  CHECK(full.data<float>()[z.numel() - 1] == -2.0f);
}

TEST_CASE("release_cached gives every idle block back") {
  const size_t bytes = size_t{2} << 20;
  void* p = cpu::host_allocate(bytes);
  cpu::host_free(p, bytes);
  CHECK(cpu::host_block_cache().cached_bytes() >= static_cast<int64_t>(bytes));
  cpu::host_block_cache().release_cached();
  CHECK(cpu::host_block_cache().cached_bytes() == 0);
}
