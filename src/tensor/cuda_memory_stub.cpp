// Built when T5ZERO_CUDA is off: every CUDA request is a clear error.
#include "tensor/cuda/device_select.h"
#include "tensor/cuda_memory.h"
#include "tensor/device.h"
#include "tensor/error.h"

namespace t5zero {

bool cuda_compiled() {
  return false;
}
int cuda_device_count() {
  return 0;
}

namespace cuda_memory {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  fail(what, ": this t5zero was built without CUDA (configure with -DT5ZERO_CUDA=ON)");
}
}  // namespace

void* device_alloc(size_t, int) {
  no_cuda("device allocation");
}
void device_free(void*, int) {}
void* pinned_alloc(size_t) {
  no_cuda("pinned host allocation");
}
void pinned_free(void*) {}
void memset_zero(void*, size_t, int) {
  no_cuda("device memset");
}

}  // namespace cuda_memory

namespace cuda {
int select_device_for_local_rank() {
  fail(
      "select_device_for_local_rank: this t5zero was built without CUDA (configure with "
      "-DT5ZERO_CUDA=ON)");
}
}  // namespace cuda
}  // namespace t5zero
