// Dropout and its keep mask on the GPU, keyed by (seed, global element) exactly as the CPU
// backend (cpu/dropout.cpp): both drop the same elements. Each thread draws one Philox block and
// uses its four words for four consecutive elements.
#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/dropout.cuh"
#include "tensor/cuda/kernel_common.cuh"

namespace t5zero::cuda {

namespace {

void check_probability(const char* op, double p) {
  T5_CHECK(p >= 0.0 && p <= 1.0, op, ": p must lie in [0, 1], got ", p);
}

// Calls body(i, kept) for every element i in [0, n) of the stream starting at element `offset`;
// thread k handles Philox block (offset / 4 + k), so one 10-round draw serves four elements.
template <typename Body>
__device__ __forceinline__ void for_each_philox_block(int64_t n, uint64_t seed, uint64_t offset,
                                                      double p, Body&& body) {
  const uint64_t first_block = offset >> 2;
  const uint64_t last_block = (offset + static_cast<uint64_t>(n) + 3) >> 2;
  for (uint64_t block = first_block + static_cast<uint64_t>(global_thread()); block < last_block;
       block += static_cast<uint64_t>(grid_threads())) {
    const Philox4 r = philox4x32_10(
        Philox4{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}},
        static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const uint64_t element = block * 4 + w;
      if (element < offset || element >= offset + static_cast<uint64_t>(n)) continue;
      const bool kept = !(static_cast<double>(philox_uniform(r.v[w])) < p);
      body(static_cast<int64_t>(element - offset), kept);
    }
  }
}

template <typename T>
__global__ void dropout_kernel(const T* x, T* out, int64_t n, double p, uint64_t seed,
                               uint64_t offset, compute_t<T> scale) {
  for_each_philox_block(n, seed, offset, p, [&](int64_t i, bool kept) {
    out[i] = kept ? store_value<T>(load_value(x[i]) * scale) : store_value<T>(compute_t<T>(0));
  });
}

__global__ void dropout_mask_kernel(uint8_t* mask, int64_t n, double p, uint64_t seed,
                                    uint64_t offset) {
  for_each_philox_block(n, seed, offset, p, [&](int64_t i, bool kept) { mask[i] = kept ? 1 : 0; });
}

}  // namespace

Tensor dropout(const Tensor& x_in, double p, uint64_t seed, uint64_t offset) {
  gpu_of("dropout", x_in);
  check_probability("dropout", p);
  T5_CHECK(is_floating(x_in.dtype()), "dropout: expected a floating dtype (f32, f64, bf16), got ",
           dtype_name(x_in.dtype()));
  if (p == 0.0) return x_in.clone();
  Tensor out = Tensor::empty(x_in.shape(), x_in.dtype(), x_in.device());
  if (p == 1.0) {  // as torch: all dropped, no 1/0
    fill(out, 0.0);
    return out;
  }
  const Tensor x = x_in.contiguous();
  const int64_t n = x.numel();
  if (n == 0) return out;
  DeviceGuard guard(x.device());
  T5_DISPATCH_FLOATING(x.dtype(), "dropout", [&] {
    using C = compute_t<scalar_t>;
    dropout_kernel<scalar_t><<<blocks_for(n / 4 + 2), kThreads, 0, stream_of(x)>>>(
        static_cast<const scalar_t*>(x.data_ptr()), static_cast<scalar_t*>(out.data_ptr()), n, p,
        seed, offset, static_cast<C>(1.0 / (1.0 - p)));
  });
  T5_CUDA_CHECK_LAUNCH("dropout");
  return out;
}

Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset, Device device) {
  check_probability("dropout_mask", p);
  T5_CHECK(device.is_cuda(), "dropout_mask: expected a CUDA device, got ", device.str());
  Tensor mask = Tensor::empty(shape, DType::u8, device);
  const int64_t n = mask.numel();
  if (n == 0) return mask;
  DeviceGuard guard(device);
  dropout_mask_kernel<<<blocks_for(n / 4 + 2), kThreads, 0, current_stream(device.index)>>>(
      static_cast<uint8_t*>(mask.data_ptr()), n, p, seed, offset);
  T5_CUDA_CHECK_LAUNCH("dropout_mask");
  return mask;
}

}  // namespace t5zero::cuda
