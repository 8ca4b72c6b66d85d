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

}  // namespace t5zero::op_checks
