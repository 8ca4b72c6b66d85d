// Differentiable reductions: forward and backward side by side. The output gradient is viewed
// with the reduced dims kept (size 1) and broadcast back over them.
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace t5zero::autograd {

namespace {
// a's shape with the reduced dims set to 1 (all of them when dims is empty).
Shape kept_dims_shape(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape kept = shape;
  if (dims.empty()) std::fill(kept.begin(), kept.end(), 1);
  const int64_t rank = static_cast<int64_t>(shape.size());
  for (int64_t d : dims) kept[normalize_dim(d, rank, "reduction backward")] = 1;
  return kept;
}

// The output gradient broadcast back to the input's shape, as a new contiguous tensor.
Tensor spread(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims) {
  return g.reshape(kept_dims_shape(input_shape, dims)).expand(input_shape).contiguous();
}

// Each element's share of the number of inputs folded into its output.
double fold_count(const Shape& shape, const std::vector<int64_t>& dims) {
  return static_cast<double>(shape_numel(shape)) /
         static_cast<double>(shape_numel(kept_dims_shape(shape, dims)));
}
}  // namespace

Variable sum(const Variable& a, const std::vector<int64_t>& dims, bool keepdim) {
  return make_result(ops::sum(a.data(), dims, keepdim), {a}, "sum",
                     [shape = a.shape(), dims](const Tensor& g) -> std::vector<Tensor> {
                       return {spread(g, shape, dims)};
                     });
}

Variable mean(const Variable& a, const std::vector<int64_t>& dims, bool keepdim) {
  return make_result(
      ops::mean(a.data(), dims, keepdim), {a}, "mean",
      [shape = a.shape(), dims](const Tensor& g) -> std::vector<Tensor> {
        return {spread(ops::mul_scalar(g, 1.0 / fold_count(shape, dims)), shape, dims)};
      });
}

// Every element equal to its output's maximum shares the gradient evenly, as torch.amax. The
// mask is a − max == 0, so an infinite maximum passes no gradient (inf − inf is NaN).
Variable amax(const Variable& a, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = ops::amax(a.data(), dims, keepdim);
  return make_result(out, {a}, "amax", [a, out, dims](const Tensor& g) -> std::vector<Tensor> {
    const Tensor& x = a.data();
    Shape kept = kept_dims_shape(x.shape(), dims);
    Tensor is_max = ops::cast(ops::eq_scalar(ops::sub(x, out.reshape(kept)), 0), x.dtype());
    Tensor ties = ops::sum(is_max, dims, true);
    return {ops::mul(is_max, ops::div(g.reshape(kept), ties))};
  });
}

// d(Σa²) = 2a·dout
Variable sum_squares(const Variable& a, const std::vector<int64_t>& dims, bool keepdim) {
  return make_result(ops::sum_squares(a.data(), dims, keepdim), {a}, "sum_squares",
                     [a, dims](const Tensor& g) -> std::vector<Tensor> {
                       const Tensor& x = a.data();
                       Shape kept = kept_dims_shape(x.shape(), dims);
                       return {ops::mul(ops::mul_scalar(x, 2), g.reshape(kept))};
                     });
}

}  // namespace t5zero::autograd
