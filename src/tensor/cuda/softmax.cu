// Softmax and log-softmax over the last dim, and their backwards, one block per row, with the CPU
// backend's statistics types (cpu/nn.cpp): float for f32 and bf16, double for f64.
#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/kernel_common.cuh"
#include "tensor/op_checks.h"

namespace t5zero::cuda {

namespace {

using op_checks::check_floating;
using op_checks::check_same;
using op_checks::Rows;
using op_checks::rows_of;

template <typename T, bool kLogSpace>
__global__ void softmax_rows_kernel(const T* x, T* y, int64_t rows, int64_t cols) {
  using C = compute_t<T>;
  __shared__ C scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    C max = -::cuda::std::numeric_limits<C>::infinity();
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const C v = load_value(xr[j]);
      max = v > max ? v : max;
    }
    max = block_max(max, scratch);
    C sum = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += ::exp(load_value(xr[j]) - max);
    sum = block_sum(sum, scratch);
    if constexpr (kLogSpace) {
      const C log_sum = ::log(sum);
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        yr[j] = store_value<T>(load_value(xr[j]) - max - log_sum);
      }
    } else {
      const C inv = C(1) / sum;
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        yr[j] = store_value<T>(::exp(load_value(xr[j]) - max) * inv);
      }
    }
  }
}

// dx = y·(g − Σ g·y) for softmax; dx = g − exp(y)·Σ g for log-softmax.
template <typename T, bool kLogSpace>
__global__ void softmax_rows_backward_kernel(const T* g, const T* y, T* dx, int64_t rows,
                                             int64_t cols) {
  using C = compute_t<T>;
  __shared__ C scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* gr = g + row * cols;
    const T* yr = y + row * cols;
    T* dr = dx + row * cols;
    C dot = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      dot += kLogSpace ? load_value(gr[j]) : load_value(gr[j]) * load_value(yr[j]);
    }
    dot = block_sum(dot, scratch);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      dr[j] = kLogSpace ? store_value<T>(load_value(gr[j]) - ::exp(load_value(yr[j])) * dot)
                        : store_value<T>(load_value(yr[j]) * (load_value(gr[j]) - dot));
    }
  }
}

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(std::min<int64_t>(rows, 1 << 20));
}

template <typename T, bool kLogSpace>
Tensor softmax_typed(const char* name, const Tensor& x_in) {
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const Rows r = rows_of(x);
  if (r.rows == 0) return y;
  DeviceGuard guard(x.device());
  softmax_rows_kernel<T, kLogSpace><<<row_blocks(r.rows), row_threads(r.cols), 0, stream_of(x)>>>(
      static_cast<const T*>(x.data_ptr()), static_cast<T*>(y.data_ptr()), r.rows, r.cols);
  T5_CUDA_CHECK_LAUNCH(name);
  return y;
}

template <typename T, bool kLogSpace>
Tensor softmax_backward_typed(const char* name, const Tensor& g_in, const Tensor& y_in) {
  const Tensor g = g_in.contiguous(), y = y_in.contiguous();
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  const Rows r = rows_of(y);
  if (r.rows == 0) return dx;
  DeviceGuard guard(y.device());
  softmax_rows_backward_kernel<T, kLogSpace>
      <<<row_blocks(r.rows), row_threads(r.cols), 0, stream_of(y)>>>(
          static_cast<const T*>(g.data_ptr()), static_cast<const T*>(y.data_ptr()),
          static_cast<T*>(dx.data_ptr()), r.rows, r.cols);
  T5_CUDA_CHECK_LAUNCH(name);
  return dx;
}

}  // namespace

Tensor softmax(const Tensor& x) {
  gpu_of("softmax", x);
  check_floating("softmax", x, "x");
  return T5_DISPATCH_FLOATING(x.dtype(), "softmax",
                              [&] { return softmax_typed<scalar_t, false>("softmax", x); });
}

Tensor softmax_backward(const Tensor& grad_y, const Tensor& y) {
  gpu_of("softmax_backward", y);
  check_floating("softmax_backward", y, "y");
  check_same("softmax_backward", grad_y, "grad_y", y, "y");
  return T5_DISPATCH_FLOATING(y.dtype(), "softmax_backward", [&] {
    return softmax_backward_typed<scalar_t, false>("softmax_backward", grad_y, y);
  });
}

Tensor log_softmax(const Tensor& x) {
  gpu_of("log_softmax", x);
  check_floating("log_softmax", x, "x");
  return T5_DISPATCH_FLOATING(x.dtype(), "log_softmax",
                              [&] { return softmax_typed<scalar_t, true>("log_softmax", x); });
}

Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y) {
  gpu_of("log_softmax_backward", y);
  check_floating("log_softmax_backward", y, "y");
  check_same("log_softmax_backward", grad_y, "grad_y", y, "y");
  return T5_DISPATCH_FLOATING(y.dtype(), "log_softmax_backward", [&] {
    return softmax_backward_typed<scalar_t, true>("log_softmax_backward", grad_y, y);
  });
}

}  // namespace t5zero::cuda
