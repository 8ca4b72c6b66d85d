// The reductions of the catalogue (tensor/ops.h), routed to the backend of their input.
#include "tensor/cpu/cpu_ops.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace t5zero::ops {

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  T5_RETURN_IF_CUDA("sum", sum(a, dims, keepdim), &a);
  return cpu::sum(a, dims, keepdim);
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  T5_RETURN_IF_CUDA("mean", mean(a, dims, keepdim), &a);
  return cpu::mean(a, dims, keepdim);
}

Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  T5_RETURN_IF_CUDA("amax", amax(a, dims, keepdim), &a);
  return cpu::amax(a, dims, keepdim);
}

Tensor sum_squares(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  T5_RETURN_IF_CUDA("sum_squares", sum_squares(a, dims, keepdim), &a);
  return cpu::sum_squares(a, dims, keepdim);
}

// The dims where `shape` was broadcast up to a's shape: the extra leading ones, and those where
// shape has 1 and a does not. Summing them and viewing as `shape` undoes the broadcast. Returns a
// itself when the shapes already agree.
Tensor sum_to(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  const int64_t lead = a.dim() - static_cast<int64_t>(shape.size());
  bool broadcastable = lead >= 0;
  std::vector<int64_t> dims;
  for (int64_t d = 0; broadcastable && d < a.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] != a.size(d)) {
      broadcastable = shape[d - lead] == 1;
      dims.push_back(d);
    }
  }
  T5_CHECK(broadcastable, "sum_to: shape ", shape_str(shape), " does not broadcast to ",
           shape_str(a.shape()));
  return sum(a, dims, true).view(shape);
}

}  // namespace t5zero::ops
