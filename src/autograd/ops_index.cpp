// Differentiable embedding lookup, index_select and gather: forward and backward side by side.
// The backwards need only shapes and the (integer) indices, never the input's values, so a
// ZeRO-3 embedding weight is not kept alive by the graph.
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace t5zero::autograd {

Variable embedding(const Variable& weight, const Tensor& ids) {
  Tensor out = ops::embedding(weight.data(), ids);  // checks weight is [rows, dim]
  const int64_t num_rows = weight.shape()[0];
  return make_result(out, {weight}, "embedding",
                     [ids, num_rows](const Tensor& g) -> std::vector<Tensor> {
                       return {ops::embedding_backward(g, ids, num_rows)};
                     });
}

Variable index_select(const Variable& a, int64_t dim, const Tensor& index) {
  const Shape shape = a.shape();
  return make_result(ops::index_select(a.data(), dim, index), {a}, "index_select",
                     [shape, dim, index](const Tensor& g) -> std::vector<Tensor> {
                       return {ops::index_add(shape, dim, index, g)};
                     });
}

Variable gather(const Variable& a, int64_t dim, const Tensor& index) {
  const Shape shape = a.shape();
  return make_result(ops::gather(a.data(), dim, index), {a}, "gather",
                     [shape, dim, index](const Tensor& g) -> std::vector<Tensor> {
                       return {ops::scatter_add(shape, dim, index, g)};
                     });
}

}  // namespace t5zero::autograd
