// Host memory for CPU tensors, with large freed blocks kept for reuse.
//
// A training step allocates the same large blocks (activations, gradients, logits) every step.
// glibc hands blocks above its mmap threshold (at most 32 MiB) back to the kernel when they are
// freed, so the next step page-faults every 4 KiB page of them again: 406k faults (1.6 GB) per
// flan-t5-small step at batch 4 x 512, each a kernel entry and a page zeroing. Blocks of at least
// kCachedHostBytes therefore come from a caching allocator (tensor/caching_allocator.h) over
// aligned host memory; smaller ones from malloc, whose bins already reuse them.
#pragma once

#include <cstddef>

#include "tensor/caching_allocator.h"

namespace t5zero::cpu {

constexpr size_t kCachedHostBytes = size_t{1} << 20;

// `nbytes` bytes aligned to 64 (a cache line, an AVX-512 vector); contents undefined. Throws an
// Error naming the size when the host is out of memory.
void* host_allocate(size_t nbytes);
// Returns a block from host_allocate of the same nbytes.
void host_free(void* ptr, size_t nbytes);

// The cache behind blocks of at least kCachedHostBytes: statistics, release_cached().
CachingAllocator& host_block_cache();

}  // namespace t5zero::cpu
