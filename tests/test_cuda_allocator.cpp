// The CUDA runtime layer on a real device: GPU storage goes through the caching allocator (reuse,
// statistics by category, out-of-memory errors), record_stream defers reuse until the other
// stream's work is done, pinned host storage is cached too, streams and events, and the device
// picked by local rank. Runs only with a CUDA device (cuda_test_main.cpp skips otherwise).
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "tensor/caching_allocator.h"
#include "tensor/device.h"
#include "tensor/ops.h"

#ifdef T5ZERO_CUDA
#include <cuda_runtime.h>

#include "tensor/cuda/device_allocator.h"
#include "tensor/cuda/device_select.h"
#include "tensor/cuda/stream.h"

using namespace t5zero;

namespace {

const Device kGpu = Device::cuda(0);

// Holds a stream at a host-controlled point: work queued after it waits until release().
class StreamGate {
 public:
  explicit StreamGate(cudaStream_t stream) : stream_(stream) {
    cudaLaunchHostFunc(
        stream,
        [](void* flag) {
          while (!static_cast<std::atomic<bool>*>(flag)->load()) {
          }
        },
        &open_);
  }
  ~StreamGate() {
    release();
    cudaStreamSynchronize(stream_);  // the host function reads open_ until it returns
  }
  void release() { open_ = true; }

 private:
  cudaStream_t stream_;
  std::atomic<bool> open_{false};
};

}  // namespace

TEST_CASE("GPU storage comes from the caching allocator and is reused by size class") {
  CachingAllocator& allocator = cuda::device_allocator(0);
  allocator.release_cached();
  const MemoryStats before = allocator.stats();
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1000, 250}, DType::f32, kGpu);  // 1,000,000 bytes
    first = t.data_ptr();
    const MemoryStats during = allocator.stats();
    CHECK(during.allocated_bytes - before.allocated_bytes ==
          static_cast<int64_t>(allocation_size_class(1000000)));
    CHECK(during.requested_bytes - before.requested_bytes == 1000000);
    CHECK(during.backend_allocations == before.backend_allocations + 1);
  }
  // Freed into the cache, not to CUDA: the next request of that class gets the same block.
  CHECK(allocator.stats().allocated_bytes == before.allocated_bytes);
  CHECK(allocator.cached_bytes() >= static_cast<int64_t>(allocation_size_class(1000000)));
  Tensor again = Tensor::empty({999990}, DType::u8, kGpu);
  CHECK(again.data_ptr() == first);
  CHECK(allocator.stats().cache_hits == before.cache_hits + 1);
  CHECK(allocator.stats().peak_allocated_bytes >= before.allocated_bytes + 1000000);
}

TEST_CASE("allocations are counted under the current memory category") {
  const MemoryStats before = cuda::device_memory_stats(0);
  const size_t index = static_cast<size_t>(MemoryCategory::optimizer_state);
  Tensor kept;
  {
    MemoryCategoryScope scope(MemoryCategory::optimizer_state);
    kept = Tensor::zeros({4096}, DType::f32, kGpu);
  }
  Tensor other = Tensor::zeros({4096}, DType::f32, kGpu);
  const MemoryStats after = cuda::device_memory_stats(0);
  CHECK(after.allocated_by_category[index] - before.allocated_by_category[index] == 16384);
  CHECK(after.peak_by_category[index] >= 16384);
  CHECK(kept.to(Device::cpu()).to_vector<float>() == std::vector<float>(4096, 0.0f));
}

TEST_CASE("out of memory names the device, the request and what holds memory") {
  const size_t petabyte = size_t{1} << 50;
  try {
    cuda::device_allocator(0).allocate(petabyte, 0, MemoryCategory::activations);
    FAIL("a petabyte allocation succeeded");
  } catch (const Error& e) {
    const std::string message = e.what();
    CAPTURE(message);
    CHECK(message.find("cuda:0: out of memory allocating") != std::string::npos);
    CHECK(message.find("for activations") != std::string::npos);
  }
  CHECK(cuda::device_memory_stats(0).out_of_memory_retries >= 1);
  // The allocator still works afterwards.
  CHECK(ops::sum(Tensor::zeros({10}, DType::f32, kGpu)).item() == 0.0);
}

TEST_CASE("record_stream: a block used on another stream is reused only after that stream") {
  CachingAllocator& allocator = cuda::device_allocator(0);
  allocator.release_cached();
  cuda::Stream side(0);
  // Two blocks of one size class, obtained before the side stream is held (cudaMalloc is never
  // called while it is, so no implicit synchronization can wait on the held stream).
  Tensor used = Tensor::empty({777777}, DType::u8, kGpu);
  Tensor spare = Tensor::empty({777777}, DType::u8, kGpu);
  void* used_block = used.data_ptr();
  void* spare_block = spare.data_ptr();
  {
    StreamGate gate(side.get());
    cuda::record_stream(used, side.get());
    used = Tensor();   // freed, but the side stream's event is pending behind the gate
    spare = Tensor();  // freed into its bin
    const int64_t cached = allocator.cached_bytes();
    CHECK(cached == static_cast<int64_t>(allocation_size_class(777792)));  // the spare only
    Tensor next = Tensor::empty({777777}, DType::u8, kGpu);
    CHECK(next.data_ptr() == spare_block);
    CHECK(next.data_ptr() != used_block);
    gate.release();
  }
  side.synchronize();
  Tensor reused = Tensor::empty({777777}, DType::u8, kGpu);
  CHECK(reused.data_ptr() == used_block);
}

TEST_CASE("pinned host storage is cached page-locked memory; copies from it round-trip") {
  CachingAllocator& pinned = cuda::pinned_allocator();
  const MemoryStats before = pinned.stats();
  Tensor host = Tensor::zeros({1 << 16}, DType::f32, Device::cpu(), HostMemory::pinned);
  CHECK(host.storage()->pinned());
  cudaPointerAttributes attributes{};
  REQUIRE(cudaPointerGetAttributes(&attributes, host.data_ptr()) == cudaSuccess);
  CHECK(attributes.type == cudaMemoryTypeHost);
  CHECK(pinned.stats().allocations == before.allocations + 1);
  host.fill_(1.5);
  Tensor device = host.to(kGpu);
  CHECK(ops::sum(device).item() == 1.5 * (1 << 16));
}

TEST_CASE("streams, events and the current stream") {
  cuda::Stream stream(0);
  CHECK(cuda::current_stream(0) == nullptr);  // the legacy default stream
  {
    cuda::StreamGuard guard(stream);
    CHECK(cuda::current_stream(0) == stream.get());
    cuda::Event start(true), end(true);
    start.record(stream.get());
    Tensor a = ops::add_scalar(Tensor::zeros({1 << 20}, DType::f32, kGpu), 2.0);
    Tensor b = ops::mul(a, a);
    end.record(stream.get());
    end.synchronize();
    CHECK(end.done());
    CHECK(end.elapsed_ms_since(start) >= 0.0f);
    CHECK(ops::sum(b).item() == 4.0 * (1 << 20));
  }
  CHECK(cuda::current_stream(0) == nullptr);
}

TEST_CASE("the device is picked by the node-local rank") {
  const int count = cuda_device_count();
  setenv("LOCAL_RANK", std::to_string(count + 1).c_str(), 1);
  const int device = cuda::select_device_for_local_rank();
  CHECK(device == (count + 1) % count);
  int current = -1;
  REQUIRE(cudaGetDevice(&current) == cudaSuccess);
  CHECK(current == device);
  unsetenv("LOCAL_RANK");
  CHECK(cuda::select_device_for_local_rank() == 0);
}

#endif  // T5ZERO_CUDA
