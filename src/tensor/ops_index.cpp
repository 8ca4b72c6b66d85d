// The indexing and assembly ops of the catalogue (tensor/ops.h), routed to the backend of their
// inputs.
#include "tensor/cpu/cpu_ops.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace t5zero::ops {

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  T5_RETURN_IF_CUDA("embedding", embedding(weight, ids), &weight, &ids);
  return cpu::embedding(weight, ids);
}

Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_rows) {
  T5_RETURN_IF_CUDA("embedding_backward", embedding_backward(grad, ids, num_rows), &grad, &ids);
  return cpu::embedding_backward(grad, ids, num_rows);
}

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  T5_RETURN_IF_CUDA("index_select", index_select(a, dim, index), &a, &index);
  return cpu::index_select(a, dim, index);
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  T5_RETURN_IF_CUDA("index_add", index_add(shape, dim, index, src), &index, &src);
  return cpu::index_add(shape, dim, index, src);
}

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) {
  T5_RETURN_IF_CUDA("gather", gather(a, dim, index), &a, &index);
  return cpu::gather(a, dim, index);
}

Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  T5_RETURN_IF_CUDA("scatter_add", scatter_add(shape, dim, index, src), &index, &src);
  return cpu::scatter_add(shape, dim, index, src);
}

Tensor concat(const std::vector<Tensor>& parts, int64_t dim) {
  T5_CHECK(!parts.empty(), "concat: no tensors given");
  for (const Tensor& p : parts) common_device("concat", {&parts[0], &p});
  T5_RETURN_IF_CUDA("concat", concat(parts, dim), &parts[0]);
  return cpu::concat(parts, dim);
}

Tensor stack(const std::vector<Tensor>& parts, int64_t dim) {
  T5_CHECK(!parts.empty(), "stack: no tensors given");
  const int d = normalize_dim(dim, parts[0].dim() + 1, "stack");
  std::vector<Tensor> unsqueezed;
  unsqueezed.reserve(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    T5_CHECK(parts[i].shape() == parts[0].shape(), "stack: tensor ", i, " has shape ",
             shape_str(parts[i].shape()), ", tensor 0 has ", shape_str(parts[0].shape()));
    unsqueezed.push_back(parts[i].unsqueeze(d));
  }
  return concat(unsqueezed, d);
}

Tensor arange(int64_t start, int64_t end, int64_t step, DType dtype) {
  T5_CHECK(step != 0, "arange: step must not be 0");
  const int64_t span = end - start;
  const int64_t n =
      (span == 0 || (span > 0) != (step > 0)) ? 0 : (span + step + (step > 0 ? -1 : 1)) / step;
  Tensor out = Tensor::zeros({n}, dtype);
  T5_DISPATCH_ALL(dtype, "arange", [&] {
    scalar_t* p = out.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = store<scalar_t>(start + i * step);
  });
  return out;
}

}  // namespace t5zero::ops
