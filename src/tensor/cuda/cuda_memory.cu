// Raw CUDA memory for Storage; the caching allocator (CUDA issue) will sit in front of this.
#include <cuda_runtime.h>

#include "tensor/cuda/cuda_check.h"
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

namespace cuda_memory {

void* device_alloc(size_t nbytes, int device) {
  T5_CUDA_CHECK(cudaSetDevice(device));
  void* ptr = nullptr;
  T5_CUDA_CHECK(cudaMalloc(&ptr, nbytes));
  return ptr;
}

void device_free(void* ptr, int device) {
  cudaSetDevice(device);
  cudaFree(ptr);
}

void* pinned_alloc(size_t nbytes) {
  void* ptr = nullptr;
  T5_CUDA_CHECK(cudaMallocHost(&ptr, nbytes));
  return ptr;
}

void pinned_free(void* ptr) {
  cudaFreeHost(ptr);
}

void memset_zero(void* ptr, size_t nbytes, int device) {
  T5_CUDA_CHECK(cudaSetDevice(device));
  T5_CUDA_CHECK(cudaMemset(ptr, 0, nbytes));
}

void copy(void* dst, const void* src, size_t nbytes) {
  T5_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDefault));
}

}  // namespace cuda_memory
}  // namespace t5zero
