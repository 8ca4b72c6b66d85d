// The op catalogue: every tensor computation T5 needs, on any device. The CPU backend
// (src/tensor/cpu) defines what each op means; other backends are tested against it.
//
// Conventions: binary ops broadcast as numpy and require equal dtypes and devices; floating ops
// accept f32, f64 and bf16 (bf16 computes in f32 and rounds each result once); results are new
// contiguous tensors; integer index tensors may be i32 or i64.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace t5zero::ops {

// ---- elementwise ----------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, double s);
Tensor mul_scalar(const Tensor& a, double s);
Tensor pow_scalar(const Tensor& a, double exponent);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor relu(const Tensor& a);
// gelu_new as HF's NewGELUActivation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
Tensor gelu_new(const Tensor& a);
// d/dx of gelu_new, times grad.
Tensor gelu_new_backward(const Tensor& grad, const Tensor& x);
// grad where x > 0, else 0.
Tensor relu_backward(const Tensor& grad, const Tensor& x);
// Comparisons give u8 masks (1 = true).
Tensor eq_scalar(const Tensor& a, double s);
Tensor ne_scalar(const Tensor& a, double s);
Tensor gt_scalar(const Tensor& a, double s);
// cond (u8) ? a : b, broadcasting all three.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);

// ---- reductions (dims empty = all dims) -------------------------------------------------------
// Floating inputs accumulate in double in fixed-size chunks combined in order, so results do not
// depend on the thread count; results keep the input dtype. Integer sums give i64, as torch.
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amax(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor sum_squares(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Sums `a` down to `shape`, undoing broadcasting (the gradient of expand).
Tensor sum_to(const Tensor& a, const Shape& shape);

// ---- matrix products ------------------------------------------------------------------------
// a [..., M, K] · b [..., K, N] (each optionally transposed in its last two dims); leading batch
// dims broadcast. f32 uses BLAS sgemm, f64 dgemm, bf16 converts to f32 and rounds the result.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// ---- normalisation, softmax, loss -----------------------------------------------------------
// Softmax over the last dim with f32 (f64 for f64) statistics; output dtype = input dtype.
Tensor softmax(const Tensor& x);
// Given y = softmax(x) and dL/dy, returns dL/dx = y·(g − Σ g·y).
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y);
Tensor log_softmax(const Tensor& x);
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y);
// Mean cross-entropy of logits [N, V] against targets [N], skipping targets == ignore_index;
// a scalar of the logits' dtype (0 when every target is ignored, as torch gives NaN we refuse
// to: the caller sees the count). Targets outside [0, V) other than ignore_index are errors.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100);
// dL/dlogits for cross_entropy, given dL/dloss (a scalar).
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits, const Tensor& targets,
                              int64_t ignore_index = -100);
// T5's RMSNorm over the last dim: y = w · cast_w(x · rsqrt(mean(x²) + eps)), statistics in f32.
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps);
struct RmsNormGrads {
  Tensor x;
  Tensor weight;
};
RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                               double eps);

// ---- indexing -------------------------------------------------------------------------------
// weight [V, D] rows picked by ids (any shape) → [ids..., D]; an id outside [0, V) is an error.
Tensor embedding(const Tensor& weight, const Tensor& ids);
// Gradient of embedding: rows of grad summed into [num_rows, D], deterministic order.
Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_rows);
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
// out = zeros(shape); out.index(dim, index[i]) += src.index(dim, i): the gradient of index_select.
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
// torch.gather: out[i][j] = a[i][index[i][j]] along dim.
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
// The gradient of gather: zeros(shape) with src added at index along dim.
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);
Tensor stack(const std::vector<Tensor>& parts, int64_t dim);
Tensor arange(int64_t start, int64_t end, int64_t step = 1, DType dtype = DType::i64);
Tensor cast(const Tensor& a, DType dtype);

// ---- dropout --------------------------------------------------------------------------------
// Element e (global index offset + linear index) is dropped when the Philox-4x32-10 uniform for
// (seed, e) is < p; kept elements are scaled by 1/(1−p). The mask depends only on (seed, e), so
// every backend, partition and recomputation drops the same elements. Dropout is linear in x:
// its backward is dropout of the gradient with the same (p, seed, offset).
Tensor dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset);
// The keep mask (u8, 1 = kept) dropout would use.
Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset);

}  // namespace t5zero::ops
