// Differentiable ops: each wraps the tensor op of the same name (tensor/ops.h) and records its
// backward next to its forward. Files: ops_elementwise.cpp, ops_reduce.cpp, ops_matmul.cpp,
// ops_nn.cpp, ops_shape.cpp, ops_index.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/variable.h"

namespace t5zero::autograd {

// ---- elementwise (broadcasting; gradients are summed back to each input's shape) -----------
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable pow(const Variable& a, const Variable& b);  // a > 0 where b's gradient is needed
Variable add_scalar(const Variable& a, double s);
Variable mul_scalar(const Variable& a, double s);
Variable pow_scalar(const Variable& a, double exponent);
Variable neg(const Variable& a);
Variable exp(const Variable& a);
Variable log(const Variable& a);
Variable sqrt(const Variable& a);
Variable rsqrt(const Variable& a);
Variable tanh(const Variable& a);
Variable relu(const Variable& a);
Variable gelu_new(const Variable& a);
Variable where(const Tensor& cond, const Variable& a, const Variable& b);
Variable masked_fill(const Variable& a, const Tensor& mask, double value);
Variable cast(const Variable& a, DType dtype);

// ---- reductions ------------------------------------------------------------------------------
Variable sum(const Variable& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable mean(const Variable& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Gradient flows to every element equal to the max (split evenly among ties).
Variable amax(const Variable& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable sum_squares(const Variable& a, const std::vector<int64_t>& dims = {},
                     bool keepdim = false);

// ---- matrix products -------------------------------------------------------------------------
Variable matmul(const Variable& a, const Variable& b, bool transpose_a = false,
                bool transpose_b = false);

// ---- normalisation, softmax, loss ------------------------------------------------------------
Variable softmax(const Variable& x);
Variable log_softmax(const Variable& x);
Variable cross_entropy(const Variable& logits, const Tensor& targets, int64_t ignore_index = -100);
Variable rms_norm(const Variable& x, const Variable& weight, double eps);
Variable dropout(const Variable& x, double p, uint64_t seed, uint64_t offset);

// ---- shapes and views (results are views where the tensor op is) ------------------------------
Variable reshape(const Variable& a, const Shape& shape);
Variable transpose(const Variable& a, int64_t dim0, int64_t dim1);
Variable permute(const Variable& a, const std::vector<int64_t>& order);
Variable narrow(const Variable& a, int64_t dim, int64_t start, int64_t length);
Variable expand(const Variable& a, const Shape& shape);
Variable contiguous(const Variable& a);
Variable concat(const std::vector<Variable>& parts, int64_t dim);
Variable stack(const std::vector<Variable>& parts, int64_t dim);

// ---- indexing --------------------------------------------------------------------------------
Variable embedding(const Variable& weight, const Tensor& ids);
Variable index_select(const Variable& a, int64_t dim, const Tensor& index);
Variable gather(const Variable& a, int64_t dim, const Tensor& index);

}  // namespace t5zero::autograd
