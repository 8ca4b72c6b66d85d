// The dropout decision on the GPU: the same Philox stream and comparison as the CPU backend
// (cpu/dropout.cpp), so both drop the same elements.
#pragma once

#include "tensor/philox.h"

namespace t5zero::cuda {

// Element `element` of the stream keyed by `seed` is dropped when its uniform (k/2^24, exact in
// any type) is below p, compared in double as the CPU does.
__device__ __forceinline__ bool dropped_at(uint64_t seed, uint64_t element, double p) {
  return static_cast<double>(philox_uniform_at(seed, element)) < p;
}

}  // namespace t5zero::cuda
