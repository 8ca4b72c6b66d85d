// Raw CUDA memory calls the CPU-side code needs; built as stubs without CUDA.
#pragma once

#include <cstddef>

namespace t5zero::cuda_memory {

void* device_alloc(size_t nbytes, int device);
void device_free(void* ptr, int device);
void* pinned_alloc(size_t nbytes);
void pinned_free(void* ptr);
void memset_zero(void* ptr, size_t nbytes, int device);
// Copies between any pair of host/device pointers (cudaMemcpyDefault), synchronously.
void copy(void* dst, const void* src, size_t nbytes);

}  // namespace t5zero::cuda_memory
