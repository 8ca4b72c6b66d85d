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

// After a kernel launch: a bad launch configuration is reported here, at the launching line,
// rather than by whichever later call happens to see it.
#define T5_CUDA_CHECK_LAUNCH(kernel_name)                                                     \
  do {                                                                                        \
    cudaError_t t5_status = cudaGetLastError();                                               \
    if (t5_status != cudaSuccess)                                                             \
      ::t5zero::fail("launch of ", kernel_name, " failed at ", __FILE__, ":", __LINE__, ": ", \
                     cudaGetErrorString(t5_status));                                          \
  } while (0)
