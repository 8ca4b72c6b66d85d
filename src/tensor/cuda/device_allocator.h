// The caching allocators behind CUDA storage: one per device for device memory, one for pinned
// host memory. Storage::allocate reaches them through tensor/cuda_memory.h; code that manages
// streams (ZeRO's communication stream) uses record_stream and the statistics directly.
#pragma once

#include <cuda_runtime.h>

#include "tensor/caching_allocator.h"
#include "tensor/tensor.h"

namespace t5zero::cuda {

// Created on first use; lives until the process exits.
CachingAllocator& device_allocator(int device);
CachingAllocator& pinned_allocator();

// The tensor's storage is also used by work on `stream`: it is not reused before that work ends.
void record_stream(const Tensor& tensor, cudaStream_t stream);

// Statistics of one device's allocator.
MemoryStats device_memory_stats(int device);

}  // namespace t5zero::cuda
