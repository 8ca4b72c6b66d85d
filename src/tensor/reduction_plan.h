// How a reduction over a list of dims walks its input, shared by every backend.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <vector>

#include "tensor/tensor.h"

namespace t5zero {

struct ReductionPlan {
  Shape kept_shape, kept_strides;
  Shape reduced_shape, reduced_strides;
  Shape out_shape;
  int64_t outputs = 1;  // elements of the result
  int64_t count = 1;    // elements folded into each
};

// Splits a's dims into kept and reduced (dims empty = all); an error names the op for a dim out
// of range or listed twice.
inline ReductionPlan plan_reduction(const char* op, const Tensor& a,
                                    const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<bool> reduced(a.dim(), dims.empty());
  for (int64_t d : dims) {
    const int n = normalize_dim(d, a.dim(), op);
    T5_CHECK(!reduced[n], op, ": dimension ", d, " listed twice");
    reduced[n] = true;
  }
  ReductionPlan plan;
  for (int d = 0; d < a.dim(); ++d) {
    if (reduced[d]) {
      plan.reduced_shape.push_back(a.size(d));
      plan.reduced_strides.push_back(a.stride(d));
      if (keepdim) plan.out_shape.push_back(1);
    } else {
      plan.kept_shape.push_back(a.size(d));
      plan.kept_strides.push_back(a.stride(d));
      plan.out_shape.push_back(a.size(d));
    }
  }
  plan.outputs = shape_numel(plan.kept_shape);
  plan.count = shape_numel(plan.reduced_shape);
  return plan;
}

// True when the smallest stride belongs to a kept dim: neighbouring outputs read neighbouring
// memory, so outputs are best accumulated side by side.
inline bool reduces_outer_dims(const ReductionPlan& plan) {
  int64_t kept_min = std::numeric_limits<int64_t>::max();
  int64_t reduced_min = std::numeric_limits<int64_t>::max();
  for (size_t d = 0; d < plan.kept_shape.size(); ++d) {
    if (plan.kept_shape[d] > 1) kept_min = std::min(kept_min, std::abs(plan.kept_strides[d]));
  }
  for (size_t d = 0; d < plan.reduced_shape.size(); ++d) {
    if (plan.reduced_shape[d] > 1) {
      reduced_min = std::min(reduced_min, std::abs(plan.reduced_strides[d]));
    }
  }
  return kept_min < reduced_min;
}

}  // namespace t5zero
