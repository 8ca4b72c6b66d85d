// The CUDA backend of the op catalogue: one declaration per op in tensor/ops.h, with the same
// meaning as the CPU backend (tensor/cpu/cpu_ops.h), which defines it. Results are new tensors on
// the inputs' device, computed on the current stream (cuda/stream.h). The ops_*.cpp dispatchers
// call these when the inputs are on a GPU; the declarations need no CUDA headers.
//
// Where results can differ from the CPU's: transcendental functions (exp, log, tanh, pow) are
// CUDA's, within a few ulps of glibc's; floating sums reduce in a tree instead of in sequence
// (the same tree for the same shapes, so results are deterministic); matmul accumulates in
// cuBLASLt's order (f32 without TF32 unless set_allow_tf32).
#pragma once

#include "tensor/ops.h"

namespace t5zero::cuda {

// Tensor core kernels: strided copy with dtype conversion (same shapes, both on one GPU) and fill.
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& dst, double value);
// A copy between the host and a GPU or between GPUs, any strides and dtypes; returns when done.
void copy_across_devices(const Tensor& dst, const Tensor& src);

// TF32 tensor-core math for f32 matmuls: off by default, so f32 matches the CPU backend.
void set_allow_tf32(bool allow);
bool allow_tf32();

using ops::RmsNormGrads;
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
Tensor gelu_new(const Tensor& a);
Tensor gelu_new_backward(const Tensor& grad, const Tensor& x);
Tensor relu_backward(const Tensor& grad, const Tensor& x);
Tensor eq_scalar(const Tensor& a, double s);
Tensor ne_scalar(const Tensor& a, double s);
Tensor gt_scalar(const Tensor& a, double s);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim);
Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim);
Tensor sum_squares(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim);
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b);
Tensor softmax(const Tensor& x);
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y);
Tensor log_softmax(const Tensor& x);
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y);
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index);
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits, const Tensor& targets,
                              int64_t ignore_index);
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps);
RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                               double eps);
Tensor embedding(const Tensor& weight, const Tensor& ids);
Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_rows);
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);
Tensor dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset);
// The keep mask on `device` (u8, 1 = kept), equal to the CPU's ops::dropout_mask bit for bit.
Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset, Device device);

}  // namespace t5zero::cuda
