// Cross-entropy of logits [N, V] against targets [N] with ignore_index: the catalogue's
// cross_entropy / cross_entropy_backward (semantics of cpu/nn.cpp) and the fused forward and
// backward of fused.h, which keep each row's log-sum-exp so the backward reads the logits once.
// Targets are checked on the host (they are N integers), with the CPU backend's messages.
#include <algorithm>
#include <vector>

#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/fused.h"
#include "tensor/cuda/kernel_common.cuh"

namespace t5zero::cuda {

namespace {

// Validates targets against [0, V) unless ignore_index; returns the number kept.
int64_t checked_targets(const char* op, const Tensor& logits, const Tensor& targets,
                        int64_t ignore_index) {
  gpu_of(op, logits);
  T5_CHECK(is_floating(logits.dtype()), op, ": logits must be floating (f32, f64, bf16), got ",
           dtype_name(logits.dtype()));
  T5_CHECK(logits.dim() == 2, op, ": logits must be [N, V], got ", shape_str(logits.shape()));
  T5_CHECK(targets.dtype() == DType::i32 || targets.dtype() == DType::i64, op,
           ": targets must be i32 or i64, got ", dtype_name(targets.dtype()));
  T5_CHECK(targets.dim() == 1 && targets.size(0) == logits.size(0), op, ": targets must be [",
           logits.size(0), "] for logits ", shape_str(logits.shape()), ", got ",
           shape_str(targets.shape()));
  // The kernels read the targets through a device pointer: host targets would be read as one.
  T5_CHECK(targets.device() == logits.device(), op, ": targets are on ", targets.device().str(),
           " but logits on ", logits.device().str());
  const std::vector<int64_t> values = targets.to_vector<int64_t>();
  const int64_t vocab = logits.size(1);
  int64_t kept = 0;
  for (size_t row = 0; row < values.size(); ++row) {
    const int64_t t = values[row];
    if (t == ignore_index) continue;
    T5_CHECK(t >= 0 && t < vocab, op, ": target ", t, " at row ", row, " is outside [0, ", vocab,
             ") and is not ignore_index (", ignore_index, ")");
    ++kept;
  }
  return kept;
}

DType stat_dtype(DType t) {
  return t == DType::f64 ? DType::f64 : DType::f32;
}

// Per kept row: lse = max + log Σ exp(x − max) and loss_row = lse − x[target], in C.
template <typename T>
__global__ void cross_entropy_rows_kernel(const T* x, const int64_t* targets, int64_t rows,
                                          int64_t cols, int64_t ignore_index, double* row_loss,
                                          compute_t<T>* row_lse) {
  using C = compute_t<T>;
  __shared__ C scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t t = targets[row];
    if (t == ignore_index) {
      if (threadIdx.x == 0) {
        row_loss[row] = 0;
        if (row_lse != nullptr) row_lse[row] = 0;
      }
      continue;
    }
    const T* xr = x + row * cols;
    C max = -::cuda::std::numeric_limits<C>::infinity();
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const C v = load_value(xr[j]);
      max = v > max ? v : max;
    }
    max = block_max(max, scratch);
    C sum = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += ::exp(load_value(xr[j]) - max);
    sum = block_sum(sum, scratch);
    if (threadIdx.x == 0) {
      const C lse = max + ::log(sum);
      row_loss[row] = static_cast<double>(lse - load_value(xr[t]));
      if (row_lse != nullptr) row_lse[row] = lse;
    }
  }
}

// loss = round(Σ row_loss / kept) in one block, in a fixed order; 0 when nothing is kept (torch
// gives NaN, which would stop training on a batch that carries no signal).
template <typename T>
__global__ void mean_loss_kernel(const double* row_loss, int64_t rows, int64_t kept, T* loss) {
  __shared__ double scratch[32];
  double acc = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) acc += row_loss[r];
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) {
    *loss = store_value<T>(kept == 0 ? 0.0 : acc / static_cast<double>(kept));
  }
}

// d = (softmax(row) − onehot(target)) · grad / kept; ignored rows 0. With row_lse the softmax is
// exp(x − lse); without, the row statistics are recomputed as the CPU computes them. dx may be x.
template <typename T>
__global__ void cross_entropy_backward_kernel(const T* x, const int64_t* targets,
                                              const compute_t<T>* row_lse, const double* grad,
                                              int64_t kept, int64_t rows, int64_t cols,
                                              int64_t ignore_index, T* dx) {
  using C = compute_t<T>;
  __shared__ C scratch[32];
  const C scale = static_cast<C>(*grad / static_cast<double>(kept));
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t t = targets[row];
    const T* xr = x + row * cols;
    T* dr = dx + row * cols;
    if (t == ignore_index) {
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dr[j] = store_value<T>(C(0));
      continue;
    }
    if (row_lse != nullptr) {
      const C lse = row_lse[row];
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        const C p = ::exp(load_value(xr[j]) - lse);
        dr[j] = store_value<T>((p - (j == t ? C(1) : C(0))) * scale);
      }
      continue;
    }
    C max = -::cuda::std::numeric_limits<C>::infinity();
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const C v = load_value(xr[j]);
      max = v > max ? v : max;
    }
    max = block_max(max, scratch);
    C sum = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += ::exp(load_value(xr[j]) - max);
    sum = block_sum(sum, scratch);
    const C inv = C(1) / sum;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const C p = ::exp(load_value(xr[j]) - max) * inv;
      dr[j] = store_value<T>((p - (j == t ? C(1) : C(0))) * scale);
    }
  }
}

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(rows, 1), 1 << 20));
}

template <typename T>
CrossEntropyForward forward_typed(const Tensor& logits_in, const Tensor& targets_in,
                                  int64_t ignore_index, int64_t kept, bool keep_lse) {
  using C = compute_t<T>;
  const Tensor logits = logits_in.contiguous();
  const Tensor targets = targets_in.to(DType::i64).contiguous();
  const int64_t rows = logits.size(0), cols = logits.size(1);
  CrossEntropyForward out;
  out.kept = kept;
  out.loss = Tensor::empty({}, logits.dtype(), logits.device());
  if (keep_lse)
    out.row_logsumexp = Tensor::empty({rows}, stat_dtype(logits.dtype()), logits.device());
  Tensor row_loss = Tensor::empty({rows}, DType::f64, logits.device());
  DeviceGuard guard(logits.device());
  cudaStream_t stream = stream_of(logits);
  if (rows > 0) {
    cross_entropy_rows_kernel<T><<<row_blocks(rows), row_threads(cols), 0, stream>>>(
        static_cast<const T*>(logits.data_ptr()), static_cast<const int64_t*>(targets.data_ptr()),
        rows, cols, ignore_index, static_cast<double*>(row_loss.data_ptr()),
        keep_lse ? static_cast<C*>(out.row_logsumexp.data_ptr()) : nullptr);
    T5_CUDA_CHECK_LAUNCH("cross_entropy");
  }
  mean_loss_kernel<T><<<1, 1024, 0, stream>>>(static_cast<const double*>(row_loss.data_ptr()), rows,
                                              kept, static_cast<T*>(out.loss.data_ptr()));
  T5_CUDA_CHECK_LAUNCH("cross_entropy");
  return out;
}

template <typename T>
Tensor backward_typed(const Tensor& grad_loss, const Tensor& logits_in, const Tensor& targets_in,
                      const Tensor& row_lse, int64_t kept, int64_t ignore_index, bool in_place) {
  using C = compute_t<T>;
  const Tensor logits = in_place ? logits_in : logits_in.contiguous();
  const Tensor targets = targets_in.to(DType::i64).contiguous();
  const int64_t rows = logits.size(0), cols = logits.size(1);
  Tensor dx = in_place ? logits : Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  if (rows == 0 || cols == 0) return dx;
  if (kept == 0) {
    fill(dx, 0.0);
    return dx;
  }
  const Tensor grad = grad_loss.to(DType::f64).contiguous();
  DeviceGuard guard(logits.device());
  cross_entropy_backward_kernel<T><<<row_blocks(rows), row_threads(cols), 0, stream_of(logits)>>>(
      static_cast<const T*>(logits.data_ptr()), static_cast<const int64_t*>(targets.data_ptr()),
      row_lse.defined() ? static_cast<const C*>(row_lse.data_ptr()) : nullptr,
      static_cast<const double*>(grad.data_ptr()), kept, rows, cols, ignore_index,
      static_cast<T*>(dx.data_ptr()));
  T5_CUDA_CHECK_LAUNCH("cross_entropy_backward");
  return dx;
}

void check_grad_loss(const char* op, const Tensor& grad_loss, const Tensor& logits) {
  T5_CHECK(grad_loss.numel() == 1, op, ": grad_loss must be a scalar, got ",
           shape_str(grad_loss.shape()));
  T5_CHECK(grad_loss.device() == logits.device(), op, ": grad_loss is on ",
           grad_loss.device().str(), " but logits on ", logits.device().str());
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index) {
  const int64_t kept = checked_targets("cross_entropy", logits, targets, ignore_index);
  return T5_DISPATCH_FLOATING(logits.dtype(), "cross_entropy", [&] {
    return forward_typed<scalar_t>(logits, targets, ignore_index, kept, false).loss;
  });
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits, const Tensor& targets,
                              int64_t ignore_index) {
  check_grad_loss("cross_entropy_backward", grad_loss, logits);
  const int64_t kept = checked_targets("cross_entropy_backward", logits, targets, ignore_index);
  return T5_DISPATCH_FLOATING(logits.dtype(), "cross_entropy_backward", [&] {
    return backward_typed<scalar_t>(grad_loss, logits, targets, Tensor(), kept, ignore_index,
                                    false);
  });
}

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                          int64_t ignore_index) {
  const int64_t kept = checked_targets("cross_entropy_forward", logits, targets, ignore_index);
  return T5_DISPATCH_FLOATING(logits.dtype(), "cross_entropy_forward", [&] {
    return forward_typed<scalar_t>(logits, targets, ignore_index, kept, true);
  });
}

Tensor cross_entropy_backward_fused(const Tensor& grad_loss, const Tensor& logits,
                                    const Tensor& targets, const CrossEntropyForward& forward,
                                    int64_t ignore_index, bool in_place) {
  const char* op = "cross_entropy_backward_fused";
  gpu_of(op, logits);
  check_grad_loss(op, grad_loss, logits);
  T5_CHECK(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0), op,
           ": logits must be [N, V] and targets [N], got ", shape_str(logits.shape()), " and ",
           shape_str(targets.shape()));
  T5_CHECK(targets.device() == logits.device(), op, ": targets are on ", targets.device().str(),
           " but logits on ", logits.device().str());
  T5_CHECK(forward.row_logsumexp.defined() && forward.row_logsumexp.dim() == 1 &&
               forward.row_logsumexp.size(0) == logits.size(0) &&
               forward.row_logsumexp.dtype() == stat_dtype(logits.dtype()),
           op, ": forward.row_logsumexp must be ", dtype_name(stat_dtype(logits.dtype())), " [",
           logits.size(0), "] from cross_entropy_forward on these logits");
  T5_CHECK(!in_place || logits.is_contiguous(), op,
           ": in_place needs contiguous logits, got strides ", shape_str(logits.strides()));
  return T5_DISPATCH_FLOATING(logits.dtype(), op, [&] {
    return backward_typed<scalar_t>(grad_loss, logits, targets, forward.row_logsumexp, forward.kept,
                                    ignore_index, in_place);
  });
}

}  // namespace t5zero::cuda
