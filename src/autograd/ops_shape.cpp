// Differentiable shape ops: forward and backward side by side. Forward results are views of the
// input where the tensor op gives one; gradients are new tensors of the input's shape.
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace t5zero::autograd {

Variable reshape(const Variable& a, const Shape& shape) {
  return make_result(
      a.data().reshape(shape), {a}, "reshape",
      [from = a.shape()](const Tensor& g) -> std::vector<Tensor> { return {g.reshape(from)}; });
}

Variable transpose(const Variable& a, int64_t dim0, int64_t dim1) {
  return make_result(a.data().transpose(dim0, dim1), {a}, "transpose",
                     [dim0, dim1](const Tensor& g) -> std::vector<Tensor> {
                       return {g.transpose(dim0, dim1).contiguous()};
                     });
}

// The gradient is permuted by the inverse order: output dim i came from input dim order[i].
Variable permute(const Variable& a, const std::vector<int64_t>& order) {
  Tensor out = a.data().permute(order);
  std::vector<int64_t> inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    inverse[normalize_dim(order[i], a.data().dim(), "permute")] = static_cast<int64_t>(i);
  }
  return make_result(out, {a}, "permute", [inverse](const Tensor& g) -> std::vector<Tensor> {
    return {g.permute(inverse).contiguous()};
  });
}

// Elements outside the window get zero gradient.
Variable narrow(const Variable& a, int64_t dim, int64_t start, int64_t length) {
  return make_result(
      a.data().narrow(dim, start, length), {a}, "narrow",
      [from = a.shape(), dim, start, length](const Tensor& g) -> std::vector<Tensor> {
        Tensor grad = Tensor::zeros(from, g.dtype(), g.device());
        grad.narrow(dim, start, length).copy_(g);
        return {grad};
      });
}

// Every copy of a broadcast element sends its gradient back to it.
Variable expand(const Variable& a, const Shape& shape) {
  return make_result(a.data().expand(shape), {a}, "expand",
                     [from = a.shape()](const Tensor& g) -> std::vector<Tensor> {
                       return {ops::sum_to(g, from)};
                     });
}

Variable contiguous(const Variable& a) {
  return make_result(a.data().contiguous(), {a}, "contiguous",
                     [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
}

// Part i's gradient is its own window of the output gradient along dim.
Variable concat(const std::vector<Variable>& parts, int64_t dim) {
  T5_CHECK(!parts.empty(), "concat: no tensors to join");
  std::vector<Tensor> data;
  for (const Variable& p : parts) data.push_back(p.data());
  Tensor out = ops::concat(data, dim);  // checks that the parts fit together
  const int d = normalize_dim(dim, out.dim(), "concat");
  std::vector<int64_t> sizes;
  for (const Tensor& t : data) sizes.push_back(t.size(d));
  return make_result(out, parts, "concat", [sizes, d](const Tensor& g) -> std::vector<Tensor> {
    std::vector<Tensor> grads;
    int64_t start = 0;
    for (int64_t size : sizes) {
      grads.push_back(g.narrow(d, start, size).contiguous());
      start += size;
    }
    return grads;
  });
}

// Part i's gradient is slice i of the output gradient along the new dim.
Variable stack(const std::vector<Variable>& parts, int64_t dim) {
  T5_CHECK(!parts.empty(), "stack: no tensors to join");
  std::vector<Tensor> data;
  for (const Variable& p : parts) data.push_back(p.data());
  const int d = normalize_dim(dim, parts[0].data().dim() + 1, "stack");
  return make_result(ops::stack(data, dim), parts, "stack",
                     [d, n = parts.size()](const Tensor& g) -> std::vector<Tensor> {
                       std::vector<Tensor> grads;
                       for (size_t i = 0; i < n; ++i) {
                         grads.push_back(g.select(d, static_cast<int64_t>(i)).contiguous());
                       }
                       return grads;
                     });
}

}  // namespace t5zero::autograd
