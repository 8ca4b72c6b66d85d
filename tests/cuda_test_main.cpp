// The main of every test_cuda_* executable: without a CUDA device (or without CUDA compiled in)
// it reports the skip and exits 77, which ctest counts as skipped (SKIP_RETURN_CODE), not passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "tensor/device.h"

int main(int argc, char** argv) {
  if (!t5zero::cuda_compiled() || t5zero::cuda_device_count() == 0) {
    std::printf("skipped: no CUDA device%s\n",
                t5zero::cuda_compiled() ? "" : " (built without CUDA)");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
