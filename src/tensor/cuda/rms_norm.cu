// T5's RMSNorm on the GPU: the catalogue's rms_norm / rms_norm_backward (semantics of
// cpu/nn.cpp) and the fused entry points of fused.h (residual add, saved 1/rms, residual grad).
// One block per row; the weight gradient sums rows in fixed chunks, then the chunks in order.
#include <algorithm>

#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/fused.h"
#include "tensor/cuda/kernel_common.cuh"
#include "tensor/op_checks.h"

namespace t5zero::cuda {

namespace {

void check_rms_norm(const char* op, const Tensor& x, const Tensor& weight, double eps) {
  gpu_of(op, x);
  T5_CHECK(is_floating(x.dtype()), op, ": x must be floating (f32, f64, bf16), got ",
           dtype_name(x.dtype()));
  T5_CHECK(x.dim() >= 1, op, ": x must have at least 1 dim");
  T5_CHECK(weight.dim() == 1 && weight.size(0) == x.shape().back(), op, ": weight must be [",
           x.shape().back(), "] for x ", shape_str(x.shape()), ", got ", shape_str(weight.shape()));
  T5_CHECK(weight.dtype() == x.dtype(), op, ": x is ", dtype_name(x.dtype()), " but weight is ",
           dtype_name(weight.dtype()));
  T5_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
}

using op_checks::check_same;

DType stat_dtype(DType t) {
  return t == DType::f64 ? DType::f64 : DType::f32;
}

// 1/rms of one row as the CPU computes it: Σ of C squares in double, the mean rounded to C.
template <typename T, typename Load>
__device__ compute_t<T> row_inverse_rms(Load load, int64_t cols, double eps, double* scratch) {
  using C = compute_t<T>;
  double sum_squares = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const C v = load(j);
    sum_squares += static_cast<double>(v * v);
  }
  sum_squares = block_sum(sum_squares, scratch);
  const C variance = static_cast<C>(sum_squares / static_cast<double>(cols));
  return C(1) / ::sqrt(variance + static_cast<C>(eps));
}

// y = round(w · round(s · inv)) with s = x, or s = round(residual + x) written to `sum`.
template <typename T>
__global__ void rms_norm_forward_kernel(const T* x, const T* residual, const T* w, T* y, T* sum,
                                        compute_t<T>* inv_out, int64_t rows, int64_t cols,
                                        double eps) {
  using C = compute_t<T>;
  __shared__ double scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    if (residual != nullptr) {
      const T* rr = residual + row * cols;
      T* sr = sum + row * cols;
      // Each thread writes the elements it reads back below: no barrier needed.
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        sr[j] = store_value<T>(load_value(rr[j]) + load_value(xr[j]));
      }
      xr = sr;
    }
    const C inv =
        row_inverse_rms<T>([&](int64_t j) { return load_value(xr[j]); }, cols, eps, scratch);
    if (inv_out != nullptr && threadIdx.x == 0) inv_out[row] = inv;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      // As HF T5LayerNorm: the normalised value is rounded to the weight's dtype first.
      const C normed = load_value(store_value<T>(load_value(xr[j]) * inv));
      yr[j] = store_value<T>(load_value(w[j]) * normed);
    }
  }
}

// dx = round(inv · (dn − n · mean(dn · n))), n = x · inv, dn = g · w; then + grad_residual.
// inv comes from the forward, or is recomputed (and saved to inv_out for the weight gradient).
template <typename T>
__global__ void rms_norm_backward_dx_kernel(const T* g, const T* x, const T* w,
                                            const compute_t<T>* inv_in, compute_t<T>* inv_out,
                                            const T* grad_residual, T* dx, int64_t rows,
                                            int64_t cols, double eps) {
  using C = compute_t<T>;
  __shared__ double scratch[32];
  __shared__ C scratch_c[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* gr = g + row * cols;
    const T* xr = x + row * cols;
    T* dr = dx + row * cols;
    C inv;
    if (inv_in != nullptr) {
      inv = inv_in[row];
    } else {
      inv = row_inverse_rms<T>([&](int64_t j) { return load_value(xr[j]); }, cols, eps, scratch);
      if (threadIdx.x == 0) inv_out[row] = inv;
    }
    C dot = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      dot += load_value(gr[j]) * load_value(w[j]) * (load_value(xr[j]) * inv);
    }
    dot = block_sum(dot, scratch_c);
    const C mean_dot = dot / static_cast<C>(cols);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const C n = load_value(xr[j]) * inv;
      const C grad_n = load_value(gr[j]) * load_value(w[j]);
      const T d = store_value<T>(inv * (grad_n - n * mean_dot));
      dr[j] = grad_residual == nullptr
                  ? d
                  : store_value<T>(load_value(d) + load_value(grad_residual[row * cols + j]));
    }
  }
}

constexpr int kColumnThreads = 256;

// partial[c, j] = Σ over rows of chunk c of g · round(x · inv), in row order, in double.
template <typename T>
__global__ void rms_norm_weight_grad_kernel(const T* g, const T* x, const compute_t<T>* inv,
                                            int64_t rows, int64_t cols, int64_t chunk,
                                            double* partial) {
  using C = compute_t<T>;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  const int64_t begin = blockIdx.y * chunk;
  const int64_t end = begin + chunk < rows ? begin + chunk : rows;
  double acc = 0;
  for (int64_t r = begin; r < end; ++r) {
    const C n = load_value(x[r * cols + j]) * inv[r];
    acc += static_cast<double>(load_value(g[r * cols + j]) * load_value(store_value<T>(n)));
  }
  partial[blockIdx.y * cols + j] = acc;
}

template <typename T>
__global__ void sum_chunks_kernel(const double* partial, int64_t chunks, int64_t cols, T* out) {
  for (int64_t j = global_thread(); j < cols; j += grid_threads()) {
    double total = 0;
    for (int64_t c = 0; c < chunks; ++c) total += partial[c * cols + j];
    out[j] = store_value<T>(total);
  }
}

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(rows, 1), 1 << 20));
}

template <typename T>
RmsNormForward forward_typed(const Tensor& residual_in, const Tensor& x_in, const Tensor& w_in,
                             double eps, bool keep_inv) {
  using C = compute_t<T>;
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const Tensor residual = residual_in.defined() ? residual_in.contiguous() : Tensor();
  const int64_t cols = x.shape().back();
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  RmsNormForward out;
  out.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (residual.defined()) out.sum = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (keep_inv) out.inv_rms = Tensor::empty({rows}, stat_dtype(x.dtype()), x.device());
  if (rows == 0) return out;
  DeviceGuard guard(x.device());
  rms_norm_forward_kernel<T><<<row_blocks(rows), row_threads(cols), 0, stream_of(x)>>>(
      static_cast<const T*>(x.data_ptr()),
      residual.defined() ? static_cast<const T*>(residual.data_ptr()) : nullptr,
      static_cast<const T*>(w.data_ptr()), static_cast<T*>(out.y.data_ptr()),
      residual.defined() ? static_cast<T*>(out.sum.data_ptr()) : nullptr,
      keep_inv ? static_cast<C*>(out.inv_rms.data_ptr()) : nullptr, rows, cols, eps);
  T5_CUDA_CHECK_LAUNCH("rms_norm");
  return out;
}

template <typename T>
ops::RmsNormGrads backward_typed(const Tensor& g_in, const Tensor& x_in, const Tensor& w_in,
                                 const Tensor& inv_in, const Tensor& grad_residual_in, double eps) {
  using C = compute_t<T>;
  const Tensor g = g_in.contiguous(), x = x_in.contiguous(), w = w_in.contiguous();
  const Tensor grad_residual =
      grad_residual_in.defined() ? grad_residual_in.contiguous() : Tensor();
  const int64_t cols = x.shape().back();
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  ops::RmsNormGrads grads{Tensor::empty(x.shape(), x.dtype(), x.device()),
                          Tensor::empty(w.shape(), w.dtype(), w.device())};
  DeviceGuard guard(x.device());
  cudaStream_t stream = stream_of(x);
  const Tensor inv = inv_in.defined() ? inv_in.contiguous()
                                      : Tensor::empty({rows}, stat_dtype(x.dtype()), x.device());
  if (rows > 0) {
    rms_norm_backward_dx_kernel<T><<<row_blocks(rows), row_threads(cols), 0, stream>>>(
        static_cast<const T*>(g.data_ptr()), static_cast<const T*>(x.data_ptr()),
        static_cast<const T*>(w.data_ptr()),
        inv_in.defined() ? static_cast<const C*>(inv.data_ptr()) : nullptr,
        inv_in.defined() ? nullptr : static_cast<C*>(inv.data_ptr()),
        grad_residual.defined() ? static_cast<const T*>(grad_residual.data_ptr()) : nullptr,
        static_cast<T*>(grads.x.data_ptr()), rows, cols, eps);
    T5_CUDA_CHECK_LAUNCH("rms_norm_backward");
  }
  if (cols == 0) return grads;
  // Enough row chunks to keep the GPU busy; fixed by the shapes, so the sum order is too.
  const int64_t column_blocks = (cols + kColumnThreads - 1) / kColumnThreads;
  const int64_t chunks = std::clamp<int64_t>(1024 / column_blocks, 1, std::max<int64_t>(rows, 1));
  const int64_t chunk = std::max<int64_t>(1, (rows + chunks - 1) / chunks);
  Tensor partial = Tensor::empty({chunks, cols}, DType::f64, x.device());
  rms_norm_weight_grad_kernel<T>
      <<<dim3(static_cast<unsigned>(column_blocks), static_cast<unsigned>(chunks)), kColumnThreads,
         0, stream>>>(static_cast<const T*>(g.data_ptr()), static_cast<const T*>(x.data_ptr()),
                      static_cast<const C*>(inv.data_ptr()), rows, cols, chunk,
                      static_cast<double*>(partial.data_ptr()));
  T5_CUDA_CHECK_LAUNCH("rms_norm_backward");
  sum_chunks_kernel<T><<<blocks_for(cols), kThreads, 0, stream>>>(
      static_cast<const double*>(partial.data_ptr()), chunks, cols,
      static_cast<T*>(grads.weight.data_ptr()));
  T5_CUDA_CHECK_LAUNCH("rms_norm_backward");
  return grads;
}

}  // namespace

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  check_rms_norm("rms_norm", x, weight, eps);
  return T5_DISPATCH_FLOATING(x.dtype(), "rms_norm", [&] {
    return forward_typed<scalar_t>(Tensor(), x, weight, eps, false).y;
  });
}

ops::RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                    double eps) {
  check_rms_norm("rms_norm_backward", x, weight, eps);
  check_same("rms_norm_backward", grad_y, "grad_y", x, "x");
  return T5_DISPATCH_FLOATING(x.dtype(), "rms_norm_backward", [&] {
    return backward_typed<scalar_t>(grad_y, x, weight, Tensor(), Tensor(), eps);
  });
}

RmsNormForward rms_norm_forward(const Tensor& x, const Tensor& weight, double eps) {
  check_rms_norm("rms_norm_forward", x, weight, eps);
  return T5_DISPATCH_FLOATING(x.dtype(), "rms_norm_forward", [&] {
    return forward_typed<scalar_t>(Tensor(), x, weight, eps, true);
  });
}

RmsNormForward add_rms_norm_forward(const Tensor& residual, const Tensor& x, const Tensor& weight,
                                    double eps) {
  check_rms_norm("add_rms_norm_forward", x, weight, eps);
  check_same("add_rms_norm_forward", residual, "residual", x, "x");
  return T5_DISPATCH_FLOATING(x.dtype(), "add_rms_norm_forward", [&] {
    return forward_typed<scalar_t>(residual, x, weight, eps, true);
  });
}

ops::RmsNormGrads rms_norm_backward_fused(const Tensor& grad_y, const Tensor& x,
                                          const Tensor& weight, const Tensor& inv_rms,
                                          const Tensor& grad_residual) {
  check_rms_norm("rms_norm_backward_fused", x, weight, 0.0);
  check_same("rms_norm_backward_fused", grad_y, "grad_y", x, "x");
  if (grad_residual.defined()) {
    check_same("rms_norm_backward_fused", grad_residual, "grad_residual", x, "x");
  }
  const int64_t rows = x.shape().back() == 0 ? 0 : x.numel() / x.shape().back();
  T5_CHECK(inv_rms.defined() && inv_rms.dim() == 1 && inv_rms.size(0) == rows &&
               inv_rms.dtype() == stat_dtype(x.dtype()) && inv_rms.device() == x.device(),
           "rms_norm_backward_fused: inv_rms must be ", dtype_name(stat_dtype(x.dtype())), " [",
           rows, "] on ", x.device().str(), " (from rms_norm_forward), got ",
           inv_rms.defined() ? shape_str(inv_rms.shape()) : std::string("undefined"));
  return T5_DISPATCH_FLOATING(x.dtype(), "rms_norm_backward_fused", [&] {
    return backward_typed<scalar_t>(grad_y, x, weight, inv_rms, grad_residual, 0.0);
  });
}

}  // namespace t5zero::cuda
