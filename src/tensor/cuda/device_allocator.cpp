// CUDA backends of the caching allocator, and the raw memory calls of tensor/cuda_memory.h.
#include "tensor/cuda/device_allocator.h"

#include <mutex>
#include <string>
#include <vector>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/stream.h"
#include "tensor/cuda_memory.h"
#include "tensor/device.h"

namespace t5zero {

bool cuda_compiled() {
  return true;
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

namespace cuda {

namespace {

// Events for both backends, created on the device of the stream they mark.
struct StreamEvents {
  static void* record(StreamId stream) {
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    int device = 0;
    T5_CUDA_CHECK(cudaStreamGetDevice(s, &device));
    DeviceGuard guard(device);
    cudaEvent_t event = nullptr;
    T5_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    T5_CUDA_CHECK(cudaEventRecord(event, s));
    return event;
  }
  static bool done(void* event) {
    const cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(event));
    if (status == cudaErrorNotReady) return false;
    T5_CUDA_CHECK(status);
    return true;
  }
  static void destroy(void* event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }
};

class DeviceMemory : public MemoryBackend {
 public:
  explicit DeviceMemory(int device) : device_(device) {}
  void* allocate(size_t bytes) override {
    DeviceGuard guard(device_);
    void* ptr = nullptr;
    const cudaError_t status = cudaMalloc(&ptr, bytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky; clear it so the next call does not report it
      return nullptr;
    }
    T5_CUDA_CHECK(status);
    return ptr;
  }
  void release(void* ptr) override {
    DeviceGuard guard(device_);
    T5_CUDA_CHECK(cudaFree(ptr));
  }
  void* record_event(StreamId stream) override { return StreamEvents::record(stream); }
  bool event_done(void* event) override { return StreamEvents::done(event); }
  void destroy_event(void* event) override { StreamEvents::destroy(event); }
  void synchronize() override {
    DeviceGuard guard(device_);
    T5_CUDA_CHECK(cudaDeviceSynchronize());
  }

 private:
  int device_;
};

// Page-locked host memory: cudaHostAlloc is slow (it maps pages for the GPU), so blocks are
// cached like device blocks. Copies from it may be asynchronous: whoever starts one records the
// copy's stream on the block.
class PinnedMemory : public MemoryBackend {
 public:
  void* allocate(size_t bytes) override {
    void* ptr = nullptr;
    const cudaError_t status = cudaHostAlloc(&ptr, bytes, cudaHostAllocPortable);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return nullptr;
    }
    T5_CUDA_CHECK(status);
    return ptr;
  }
  void release(void* ptr) override { T5_CUDA_CHECK(cudaFreeHost(ptr)); }
  void* record_event(StreamId stream) override { return StreamEvents::record(stream); }
  bool event_done(void* event) override { return StreamEvents::done(event); }
  void destroy_event(void* event) override { StreamEvents::destroy(event); }
  // Copies from pinned memory may run on any device's streams.
  void synchronize() override {
    int devices = 0;
    T5_CUDA_CHECK(cudaGetDeviceCount(&devices));
    for (int d = 0; d < devices; ++d) {
      DeviceGuard guard(d);
      T5_CUDA_CHECK(cudaDeviceSynchronize());
    }
  }
};

std::mutex allocators_mutex;

}  // namespace

// Never destroyed: storages freed during static destruction (and the CUDA runtime's own
// teardown order) must still find their allocator.
CachingAllocator& device_allocator(int device) {
  static std::vector<CachingAllocator*>* allocators = new std::vector<CachingAllocator*>();
  std::lock_guard<std::mutex> lock(allocators_mutex);
  if (device >= 0 && static_cast<size_t>(device) < allocators->size() &&
      (*allocators)[device] != nullptr) {
    return *(*allocators)[device];
  }
  T5_CHECK(device >= 0 && device < cuda_device_count(), "cuda: device ", device,
           " does not exist (", cuda_device_count(), " visible)");
  if (allocators->size() <= static_cast<size_t>(device)) allocators->resize(device + 1, nullptr);
  CachingAllocator*& a = (*allocators)[device];
  a = new CachingAllocator(std::make_unique<DeviceMemory>(device),
                           "cuda:" + std::to_string(device));
  return *a;
}

CachingAllocator& pinned_allocator() {
  static CachingAllocator* allocator =
      new CachingAllocator(std::make_unique<PinnedMemory>(), "pinned host");
  return *allocator;
}

void record_stream(const Tensor& tensor, cudaStream_t stream) {
  T5_CHECK(tensor.defined(), "record_stream: undefined tensor");
  const Device d = tensor.device();
  void* base = tensor.storage()->data();
  if (d.is_cuda()) {
    device_allocator(d.index).record_stream(base, reinterpret_cast<StreamId>(stream));
  } else {
    T5_CHECK(tensor.storage()->pinned(), "record_stream: a ", d.str(),
             " tensor that is not in pinned memory is never read asynchronously");
    pinned_allocator().record_stream(base, reinterpret_cast<StreamId>(stream));
  }
}

MemoryStats device_memory_stats(int device) {
  return device_allocator(device).stats();
}

}  // namespace cuda

namespace cuda_memory {

void* device_alloc(size_t nbytes, int device) {
  return cuda::device_allocator(device).allocate(
      nbytes, reinterpret_cast<StreamId>(cuda::current_stream(device)),
      MemoryCategoryScope::current());
}

void device_free(void* ptr, int device) {
  cuda::device_allocator(device).free(ptr);
}

void* pinned_alloc(size_t nbytes) {
  return cuda::pinned_allocator().allocate(nbytes, 0, MemoryCategoryScope::current());
}

void pinned_free(void* ptr) {
  cuda::pinned_allocator().free(ptr);
}

void memset_zero(void* ptr, size_t nbytes, int device) {
  cuda::DeviceGuard guard(device);
  T5_CUDA_CHECK(cudaMemsetAsync(ptr, 0, nbytes, cuda::current_stream(device)));
}

}  // namespace cuda_memory
}  // namespace t5zero
