// ops::matmul on the GPU: the CPU backend's semantics (cpu/matmul.cpp: transposes, broadcast
// batch dims) mapped onto cuBLASLt strided-batched GEMMs. Operands are read in place whenever
// cuBLASLt can: unit stride along rows or columns, and batch dims that step by one stride.
// bf16 multiplies bf16 inputs with f32 accumulation and rounds each output once.
#include <optional>

#include "tensor/cuda/cublaslt_gemm.h"
#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/stream.h"
#include "tensor/gemm_layout.h"

namespace t5zero::cuda {

namespace {

// The trailing batch dims that step by a single stride in both operands (the output is
// contiguous): cuBLASLt's batch, with the strides of their innermost dim of size > 1. The leading
// batch dims are looped over.
struct UniformBatch {
  int dims = 0;
  int64_t a_stride = 0;
  int64_t b_stride = 0;
};

UniformBatch uniform_batch(const StridedOperand& a, const StridedOperand& b, const Shape& batch) {
  UniformBatch u;
  int64_t span = 0;  // elements of the group so far, in units of its innermost stride
  for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] != 1) {
      if (span == 0) {
        u.a_stride = a.view.stride(d);
        u.b_stride = b.view.stride(d);
        span = batch[d];
      } else if (a.view.stride(d) == u.a_stride * span && b.view.stride(d) == u.b_stride * span) {
        span *= batch[d];
      } else {
        break;
      }
    }
    ++u.dims;
  }
  return u;
}

// True when A's batch dims continue its row stride and B is one matrix for every batch: then the
// batches are one tall [batch·M, K] · [K, N] product (a linear layer on [batch, seq, d]).
bool folds_into_rows(const StridedOperand& a, const StridedOperand& b, const Shape& batch) {
  if (a.layout.transposed) return false;
  int64_t expected = a.layout.ld * a.view.size(-2);
  for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    if (b.view.stride(d) != 0) return false;
    if (a.view.stride(d) != expected) return false;
    expected *= batch[d];
  }
  return true;
}

// Loops with more host launches than this copy the operands contiguous instead.
constexpr int64_t kMaxLoopedLaunches = 64;

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  T5_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: operands need at least 2 dims, got ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  T5_CHECK(a.dtype() == b.dtype(), "matmul: operand dtypes differ: ", dtype_name(a.dtype()),
           " and ", dtype_name(b.dtype()));
  T5_CHECK(is_floating(a.dtype()), "matmul: expected a floating dtype (f32, f64, bf16), got ",
           dtype_name(a.dtype()));
  T5_CHECK(a.device().is_cuda() && a.device() == b.device(), "matmul: operands on ",
           a.device().str(), " and ", b.device().str());
  Tensor la = transpose_a ? a.transpose(-2, -1) : a;
  Tensor lb = transpose_b ? b.transpose(-2, -1) : b;
  const int64_t m = la.size(-2), k = la.size(-1), n = lb.size(-1);
  T5_CHECK(lb.size(-2) == k, "matmul: inner dimensions differ: A is ", shape_str(la.shape()),
           " and B is ", shape_str(lb.shape()), " (after transpose_a=", transpose_a,
           ", transpose_b=", transpose_b, ")");
  const Shape batch_a(la.shape().begin(), la.shape().end() - 2);
  const Shape batch_b(lb.shape().begin(), lb.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(batch_a, batch_b);
  } catch (const Error&) {
    fail("matmul: batch dims ", shape_str(batch_a), " and ", shape_str(batch_b),
         " do not broadcast (A is ", shape_str(la.shape()), ", B is ", shape_str(lb.shape()), ")");
  }
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  if (shape_numel(out_shape) == 0 || k == 0) {
    return Tensor::zeros(out_shape, a.dtype(), a.device());  // sum of none
  }
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  DeviceGuard guard(a.device());
  cudaStream_t stream = current_stream(a.device().index);

  StridedOperand oa = strided_operand(la, batch);
  StridedOperand ob = strided_operand(lb, batch);
  const size_t element = dtype_size(a.dtype());
  auto operand = [&](const StridedOperand& o, int64_t offset, int64_t batch_stride) {
    return GemmOperand{static_cast<const char*>(o.view.data_ptr()) + offset * element,
                       o.layout.transposed, o.layout.ld, batch_stride};
  };

  GemmProblem p;
  p.dtype = a.dtype();
  p.n = n;
  p.k = k;
  p.ldc = n;
  p.c_batch_stride = m * n;
  if (folds_into_rows(oa, ob, batch)) {
    p.m = shape_numel(batch) * m;
    p.a = operand(oa, 0, 0);
    p.b = operand(ob, 0, 0);
    p.c = out.data_ptr();
    gemm(p, stream);
    return out;
  }
  UniformBatch inner = uniform_batch(oa, ob, batch);
  int64_t launches = 1;
  for (size_t d = 0; d + inner.dims < batch.size(); ++d) launches *= batch[d];
  if (launches > kMaxLoopedLaunches) {
    oa = StridedOperand{oa.view.contiguous(), GemmLayout{false, oa.view.size(-1)}};
    ob = StridedOperand{ob.view.contiguous(), GemmLayout{false, ob.view.size(-1)}};
    inner = UniformBatch{static_cast<int>(batch.size()), m * k, k * n};
    launches = 1;
  }
  const int outer_dims = static_cast<int>(batch.size()) - inner.dims;
  p.m = m;
  p.batch = 1;
  for (size_t d = outer_dims; d < batch.size(); ++d) p.batch *= batch[d];
  for (int64_t launch = 0; launch < launches; ++launch) {
    int64_t a_offset = 0, b_offset = 0, rest = launch;
    for (int d = outer_dims - 1; d >= 0; --d) {
      const int64_t index = rest % batch[d];
      rest /= batch[d];
      a_offset += index * oa.view.stride(d);
      b_offset += index * ob.view.stride(d);
    }
    p.a = operand(oa, a_offset, inner.a_stride);
    p.b = operand(ob, b_offset, inner.b_stride);
    p.c = static_cast<char*>(out.data_ptr()) + launch * p.batch * m * n * element;
    gemm(p, stream);
  }
  return out;
}

}  // namespace t5zero::cuda
