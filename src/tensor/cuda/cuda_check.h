// CUDA error checks that name the call, the file and the line.
#pragma once

#include <cuda_runtime.h>

#include "tensor/error.h"

#define T5_CUDA_CHECK(call)                                               \
  do {                                                                    \
    cudaError_t t5_status = (call);                                       \
    if (t5_status != cudaSuccess)                                         \
      ::t5zero::fail(#call, " failed at ", __FILE__, ":", __LINE__, ": ", \
                     cudaGetErrorString(t5_status));                      \
  } while (0)
