// The CPU backend: reference semantics for every op in tensor/ops.h (same names and meaning).
// Only ops.cpp and the tensor core call these directly.
#pragma once

#include "tensor/ops.h"

namespace t5zero::cpu {

// Tensor core kernels.
void copy(const Tensor& dst, const Tensor& src);  // same shapes; converts dtype
void fill(const Tensor& dst, double value);

// The catalogue, one declaration per op in tensor/ops.h.
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
Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset);

}  // namespace t5zero::cpu
