// Argument checks every backend makes before computing an op, so all of them refuse bad input with
// the same message.
#pragma once

#include <cmath>
#include <initializer_list>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/tensor.h"

namespace t5zero::op_checks {

// The broadcast shape of all inputs; an error names the op.
inline Shape broadcast_for(const char* op, std::initializer_list<const Tensor*> inputs) {
  Shape shape;
  for (const Tensor* t : inputs) {
    try {
      shape = broadcast_shapes(shape, t->shape());
    } catch (const Error& e) {
      fail(op, ": ", e.what());
    }
  }
  return shape;
}

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  T5_CHECK(a.dtype() == b.dtype(), op, ": inputs have different dtypes ", dtype_name(a.dtype()),
           " and ", dtype_name(b.dtype()), "; cast one first");
}

// An integer tensor only meets integer scalars it can hold (no silent truncation of 0.5 or -inf).
template <typename T>
void check_scalar_fits(const char* op, double s) {
  if constexpr (std::is_integral_v<T>) {
    T5_CHECK(std::isfinite(s) && std::trunc(s) == s &&
                 s >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
                 s <= static_cast<double>(std::numeric_limits<T>::max()),
             op, ": scalar ", s, " is not a value of the tensor's dtype ",
             dtype_name(dtype_of<T>()));
  }
}

inline void check_index_dtype(const char* op, const Tensor& index, const char* name) {
  T5_CHECK(index.dtype() == DType::i32 || index.dtype() == DType::i64, op, ": ", name,
           " must be i32 or i64, got ", dtype_name(index.dtype()));
}

// Index values as i64 (row-major order), each checked to lie in [0, limit).
inline std::vector<int64_t> checked_indices(const char* op, const Tensor& index, const char* name,
                                            int64_t limit, const char* limit_name) {
  check_index_dtype(op, index, name);
  std::vector<int64_t> values = index.to_vector<int64_t>();
  for (size_t i = 0; i < values.size(); ++i) {
    T5_CHECK(values[i] >= 0 && values[i] < limit, op, ": ", name, " ", values[i], " at position ",
             i, " is outside [0, ", limit, ") (", limit_name, ")");
  }
  return values;
}

// The shape of concat(parts, dim) and the normalized dim; an error names the first part that
// differs from part 0 in dtype or in a dim other than `dim`.
inline Shape concat_shape(const std::vector<Tensor>& parts, int64_t dim, int& d) {
  T5_CHECK(!parts.empty(), "concat: no tensors given");
  const Tensor& first = parts[0];
  T5_CHECK(first.dim() >= 1, "concat: tensors must have at least 1 dim");
  d = normalize_dim(dim, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& p = parts[i];
    T5_CHECK(p.dtype() == first.dtype(), "concat: tensor ", i, " is ", dtype_name(p.dtype()),
             " but tensor 0 is ", dtype_name(first.dtype()));
    bool compatible = p.dim() == first.dim();
    for (int k = 0; compatible && k < p.dim(); ++k) {
      compatible = k == d || p.size(k) == first.size(k);
    }
    T5_CHECK(compatible, "concat: tensor ", i, " has shape ", shape_str(p.shape()),
             ", tensor 0 has ", shape_str(first.shape()), "; only dim ", d, " may differ");
    out_shape[d] += p.size(d);
  }
  return out_shape;
}

// Rows of a tensor viewed as [rows, cols] over its last dim (a 0-d tensor is one row of one):
// how softmax, log-softmax and their backwards walk it.
struct Rows {
  int64_t rows;
  int64_t cols;
};
inline Rows rows_of(const Tensor& t) {
  const int64_t cols = t.dim() == 0 ? 1 : t.shape().back();
  return Rows{cols == 0 ? 0 : t.numel() / cols, cols};
}

inline void check_floating(const char* op, const Tensor& a) {
  T5_CHECK(is_floating(a.dtype()), op, ": expected a floating dtype (f32, f64, bf16), got ",
           dtype_name(a.dtype()));
}

inline void check_floating(const char* op, const Tensor& t, const char* name) {
  T5_CHECK(is_floating(t.dtype()), op, ": ", name, " must be floating (f32, f64, bf16), got ",
           dtype_name(t.dtype()));
}

// Two operands of one shape, dtype and device (a gradient and the tensor it belongs to).
inline void check_same(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                       const char* b_name) {
  T5_CHECK(a.shape() == b.shape(), op, ": ", a_name, " ", shape_str(a.shape()), " and ", b_name,
           " ", shape_str(b.shape()), " differ in shape");
  T5_CHECK(a.dtype() == b.dtype(), op, ": ", a_name, " is ", dtype_name(a.dtype()), " but ", b_name,
           " is ", dtype_name(b.dtype()));
  T5_CHECK(a.device() == b.device(), op, ": ", a_name, " is on ", a.device().str(), " but ", b_name,
           " is on ", b.device().str());
}

}  // namespace t5zero::op_checks
