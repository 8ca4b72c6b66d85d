// What the training-step benchmark needs of a device beyond the op catalogue: synchronization,
// the allocator's statistics, and telling an out-of-memory error from other failures. The CUDA
// half exists only in CUDA builds; a CPU-only build refuses CUDA devices with a clear error.
#include <sys/resource.h>

#include <string>

#include "cmd_bench.h"
#include "tensor/cpu/host_allocator.h"
#include "tensor/error.h"

#if defined(T5ZERO_CUDA)
#include <cuda_runtime.h>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/device_allocator.h"
#include "tensor/cuda/stream.h"
#endif

namespace t5zero::cli::bench {

namespace {

#if !defined(T5ZERO_CUDA)
[[noreturn]] void no_cuda(Device device) {
  fail(device.str(), ": this t5zero was built without CUDA (configure with -DT5ZERO_CUDA=ON)");
}
#endif

}  // namespace

std::string device_description(Device device) {
  if (device.is_cpu()) return "cpu";
#if defined(T5ZERO_CUDA)
  cudaDeviceProp prop{};
  T5_CUDA_CHECK(cudaGetDeviceProperties(&prop, device.index));
  return device.str() + " (" + prop.name + ")";
#else
  no_cuda(device);
#endif
}

void synchronize(Device device) {
  if (device.is_cpu()) return;  // CPU ops have finished when they return
#if defined(T5ZERO_CUDA)
  cuda::DeviceGuard guard(device);
  T5_CUDA_CHECK(cudaDeviceSynchronize());
#else
  no_cuda(device);
#endif
}

MemoryStats memory_stats(Device device) {
  if (device.is_cpu()) return cpu::host_block_cache().stats();
#if defined(T5ZERO_CUDA)
  return cuda::device_memory_stats(device.index);
#else
  no_cuda(device);
#endif
}

void reset_peak_memory(Device device) {
  if (device.is_cpu()) {
    cpu::host_block_cache().reset_peaks();
    return;
  }
#if defined(T5ZERO_CUDA)
  cuda::device_allocator(device.index).reset_peaks();
#else
  no_cuda(device);
#endif
}

void release_cached_memory(Device device) {
  synchronize(device);
  if (device.is_cpu()) {
    cpu::host_block_cache().release_cached();
    return;
  }
#if defined(T5ZERO_CUDA)
  cuda::device_allocator(device.index).release_cached();
#else
  no_cuda(device);
#endif
}

bool is_out_of_memory(const std::exception& error) {
  // The caching allocators say "<device>: out of memory allocating ..."; a CUDA call's
  // cudaErrorMemoryAllocation reads "out of memory" (T5_CUDA_CHECK appends it).
  return std::string(error.what()).find("out of memory") != std::string::npos;
}

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace t5zero::cli::bench
