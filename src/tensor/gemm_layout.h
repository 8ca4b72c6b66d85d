// How a GEMM library (BLAS, cuBLASLt) can read a strided matrix in place, shared by the backends.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "tensor/tensor.h"

namespace t5zero {

// A logical [rows, cols] operand read as row-major with leading dimension `ld`, or as the
// transpose of a row-major [cols, rows] matrix (`transposed`).
struct GemmLayout {
  bool transposed;
  int64_t ld;
};

// The layout of a [rows, cols] matrix with the given element strides, or nullopt when it cannot
// be read in place (a broadcast, a strided column, overlapping rows).
inline std::optional<GemmLayout> gemm_layout(int64_t rows, int64_t cols, int64_t row_stride,
                                             int64_t col_stride) {
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= std::max<int64_t>(cols, 1))) {
    return GemmLayout{false, rows == 1 ? std::max<int64_t>(cols, 1) : row_stride};
  }
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= std::max<int64_t>(rows, 1))) {
    return GemmLayout{true, cols == 1 ? std::max<int64_t>(rows, 1) : col_stride};
  }
  return std::nullopt;
}

// A logical operand [..., rows, cols] as a GEMM library reads it, expanded to the output's batch
// dims; made contiguous first (before expanding, so broadcast batches are not copied) when its
// last two dims cannot be read in place.
struct StridedOperand {
  Tensor view;  // [batch..., rows, cols]
  GemmLayout layout;
};

inline StridedOperand strided_operand(Tensor logical, const Shape& batch) {
  const int64_t rows = logical.size(-2), cols = logical.size(-1);
  auto layout = gemm_layout(rows, cols, logical.stride(-2), logical.stride(-1));
  if (!layout) {
    logical = logical.contiguous();
    layout = gemm_layout(rows, cols, logical.stride(-2), logical.stride(-1));
  }
  Shape shape = batch;
  shape.push_back(rows);
  shape.push_back(cols);
  return StridedOperand{logical.expand(shape), *layout};
}

}  // namespace t5zero
