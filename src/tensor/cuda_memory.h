// The CUDA memory calls Storage needs. Device and pinned blocks come from the caching allocators
// (cuda/device_allocator.h), device blocks for the current stream and memory category; without
// CUDA every call is a clear error (cuda_memory_stub.cpp).
#pragma once

#include <cstddef>

namespace t5zero::cuda_memory {

void* device_alloc(size_t nbytes, int device);
void device_free(void* ptr, int device);
void* pinned_alloc(size_t nbytes);
void pinned_free(void* ptr);
// Zero-fills on the device's current stream (ordered with the work that will use the block).
void memset_zero(void* ptr, size_t nbytes, int device);

}  // namespace t5zero::cuda_memory
