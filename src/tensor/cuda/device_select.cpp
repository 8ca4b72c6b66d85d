#include "tensor/cuda/device_select.h"

#include <cuda_runtime.h>

#include "tensor/cuda/cuda_check.h"
#include "tensor/device.h"
#include "tensor/local_rank.h"

namespace t5zero::cuda {

int select_device_for_local_rank() {
  const int count = cuda_device_count();
  T5_CHECK(count > 0,
           "select_device_for_local_rank: no CUDA device is visible (check the driver "
           "and CUDA_VISIBLE_DEVICES)");
  const int device = local_rank_from_environment().value_or(0) % count;
  T5_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

}  // namespace t5zero::cuda
