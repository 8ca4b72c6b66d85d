// Indexing ops: embedding lookups, index_select/index_add, gather/scatter_add (torch semantics)
// and concat. Every index is bounds-checked before any element moves; the gradient ops sum in a
// fixed order (no atomics), so results do not depend on the thread count.
#include <cstring>

#include "tensor/cpu/cpu_ops.h"
#include "tensor/cpu/strided_loop.h"
#include "tensor/op_checks.h"

namespace t5zero::cpu {

namespace {

using op_checks::check_index_dtype;
using op_checks::checked_indices;

// out[o, i, :] = a[o, index[i], :] for contiguous a and out, any element type.
void select_slices(const Tensor& a, const std::vector<int64_t>& index, const AroundDim& in,
                   const Tensor& out) {
  const size_t elem = dtype_size(a.dtype());
  const char* src = static_cast<const char*>(a.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  const int64_t n = static_cast<int64_t>(index.size());
  const size_t bytes = static_cast<size_t>(in.inner) * elem;
#pragma omp parallel for schedule(static) if (in.outer * n * in.inner >= kParallelGrain)
  for (int64_t on = 0; on < in.outer * n; ++on) {
    const int64_t o = on / n, i = on % n;
    std::memcpy(dst + static_cast<size_t>(on) * bytes,
                src + static_cast<size_t>(o * in.size + index[i]) * bytes, bytes);
  }
}

// out[o, index[i], j] += src[o, i, j] in a ComputeType accumulator, each output element summing
// its contributions in increasing i; out is contiguous [outer, out_size, inner].
template <typename T>
void add_slices(const Tensor& src_in, const std::vector<int64_t>& index, int64_t out_size,
                int64_t outer, int64_t inner, const Tensor& out) {
  using C = typename ComputeType<T>::type;
  Tensor src = src_in.contiguous();
  const T* ps = src.data<T>();
  T* po = out.data<T>();
  const int64_t n = static_cast<int64_t>(index.size());
#pragma omp parallel if (outer * n * inner >= kParallelGrain)
  {
    std::vector<C> acc(static_cast<size_t>(out_size));
#pragma omp for schedule(static) collapse(2)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        std::fill(acc.begin(), acc.end(), C(0));
        for (int64_t i = 0; i < n; ++i) acc[index[i]] += load(ps[(o * n + i) * inner + j]);
        for (int64_t r = 0; r < out_size; ++r)
          po[(o * out_size + r) * inner + j] = store<T>(acc[r]);
      }
    }
  }
}

// out[r] = Σ grad[position[k]] for k in [start[r], start[r+1]), in increasing k, per row in
// parallel; grad is contiguous [positions, width], out [rows, width].
template <typename T>
void sum_rows_by_id(const Tensor& grad, const std::vector<int64_t>& start,
                    const std::vector<int64_t>& position, const Tensor& out) {
  using C = typename ComputeType<T>::type;
  const int64_t num_rows = out.size(0), width = out.size(1);
  const T* pg = grad.data<T>();
  T* po = out.data<T>();
  const int64_t work = static_cast<int64_t>(position.size()) * width;
#pragma omp parallel if (work >= kParallelGrain)
  {
    std::vector<C> acc(static_cast<size_t>(width));
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < num_rows; ++r) {
      if (start[r] == start[r + 1]) continue;
      std::fill(acc.begin(), acc.end(), C(0));
      for (int64_t k = start[r]; k < start[r + 1]; ++k) {
        const T* gr = pg + position[k] * width;
        for (int64_t j = 0; j < width; ++j) acc[j] += load(gr[j]);
      }
      for (int64_t j = 0; j < width; ++j) po[r * width + j] = store<T>(acc[j]);
    }
  }
}

}  // namespace

Tensor embedding(const Tensor& weight_in, const Tensor& ids) {
  T5_CHECK(weight_in.dim() == 2, "embedding: weight must be [rows, dim], got ",
           shape_str(weight_in.shape()));
  const int64_t rows = weight_in.size(0), width = weight_in.size(1);
  std::vector<int64_t> id = checked_indices("embedding", ids, "id", rows, "the weight's rows");
  Tensor weight = weight_in.contiguous();
  Shape out_shape = ids.shape();
  out_shape.push_back(width);
  Tensor out = Tensor::empty(out_shape, weight.dtype());
  select_slices(weight, id, AroundDim{1, rows, width}, out);
  return out;
}

Tensor embedding_backward(const Tensor& grad_in, const Tensor& ids, int64_t num_rows) {
  check_index_dtype("embedding_backward", ids, "ids");
  Shape expected = ids.shape();
  T5_CHECK(grad_in.dim() == ids.dim() + 1, "embedding_backward: grad ", shape_str(grad_in.shape()),
           " must be ids ", shape_str(ids.shape()), " plus one dim");
  expected.push_back(grad_in.shape().back());
  T5_CHECK(grad_in.shape() == expected, "embedding_backward: grad ", shape_str(grad_in.shape()),
           " does not match ids ", shape_str(ids.shape()));
  const int64_t width = expected.back();
  std::vector<int64_t> id =
      checked_indices("embedding_backward", ids, "id", num_rows, "the weight's rows");
  // Positions of each row's ids, in increasing order (a counting sort), so every row sums its
  // gradients in the same order on any thread count.
  std::vector<int64_t> start(static_cast<size_t>(num_rows) + 1, 0);
  for (int64_t r : id) ++start[r + 1];
  for (int64_t r = 0; r < num_rows; ++r) start[r + 1] += start[r];
  std::vector<int64_t> position(id.size());
  std::vector<int64_t> next(start.begin(), start.end() - 1);
  for (size_t p = 0; p < id.size(); ++p) position[next[id[p]]++] = static_cast<int64_t>(p);

  Tensor grad = grad_in.contiguous();
  Tensor out = Tensor::zeros({num_rows, width}, grad.dtype());
  T5_DISPATCH_FLOATING(grad.dtype(), "embedding_backward",
                       [&] { sum_rows_by_id<scalar_t>(grad, start, position, out); });
  return out;
}

Tensor index_select(const Tensor& a_in, int64_t dim, const Tensor& index) {
  T5_CHECK(a_in.dim() >= 1, "index_select: input must have at least 1 dim");
  const int d = normalize_dim(dim, a_in.dim(), "index_select");
  T5_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got ", shape_str(index.shape()));
  std::vector<int64_t> idx =
      checked_indices("index_select", index, "index", a_in.size(d), "the size of dim");
  Tensor a = a_in.contiguous();
  Shape out_shape = a.shape();
  out_shape[d] = static_cast<int64_t>(idx.size());
  Tensor out = Tensor::zeros(out_shape, a.dtype());
  select_slices(a, idx, around_dim(a.shape(), d), out);
  return out;
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  T5_CHECK(!shape.empty(), "index_add: the output must have at least 1 dim");
  const int d = normalize_dim(dim, static_cast<int64_t>(shape.size()), "index_add");
  T5_CHECK(index.dim() <= 1, "index_add: index must be 1-D, got ", shape_str(index.shape()));
  std::vector<int64_t> idx =
      checked_indices("index_add", index, "index", shape[d], "the size of dim");
  Shape expected = shape;
  expected[d] = static_cast<int64_t>(idx.size());
  T5_CHECK(src.shape() == expected, "index_add: src must be ", shape_str(expected), ", got ",
           shape_str(src.shape()));
  Tensor out = Tensor::zeros(shape, src.dtype());
  const AroundDim o = around_dim(shape, d);
  T5_DISPATCH_FLOATING(src.dtype(), "index_add",
                       [&] { add_slices<scalar_t>(src, idx, o.size, o.outer, o.inner, out); });
  return out;
}

namespace {

// Checks torch's gather/scatter shape rules: same rank; index.size(d) <= limit.size(d) for
// d != dim (and for every d against `also`, when given).
void check_gather_shapes(const char* op, const Shape& limit, const char* limit_name,
                         const Tensor& index, int d, const Tensor* also) {
  T5_CHECK(index.dim() == static_cast<int>(limit.size()), op, ": index ", shape_str(index.shape()),
           " and ", limit_name, " ", shape_str(limit), " differ in rank");
  T5_CHECK(!also || also->dim() == index.dim(), op, ": index ", shape_str(index.shape()),
           " and src ", shape_str(also->shape()), " differ in rank");
  for (int i = 0; i < index.dim(); ++i) {
    T5_CHECK(i == d || index.size(i) <= limit[i], op, ": index ", shape_str(index.shape()),
             " is larger than ", limit_name, " ", shape_str(limit), " in dim ", i);
    if (also) {
      T5_CHECK(index.size(i) <= also->size(i), op, ": index ", shape_str(index.shape()),
               " is larger than src ", shape_str(also->shape()), " in dim ", i);
    }
  }
}

// For scatter_add: index and src viewed with dim moved last (`order`); each line along dim adds
// into one line of the contiguous out, summing in a ComputeType accumulator in increasing position.
template <typename T>
void scatter_add_lines(const Tensor& index_view, const Tensor& src_view,
                       const std::vector<int64_t>& order, const Tensor& out) {
  using C = typename ComputeType<T>::type;
  const Shape& rows_shape = index_view.shape();
  const int64_t line = rows_shape.back();
  const int64_t rows = line == 0 ? 0 : index_view.numel() / line;
  const int d = static_cast<int>(order.back());
  const int64_t out_line = out.size(d);
  const Shape out_strides = contiguous_strides(out.shape());
  const Shape& index_strides = index_view.strides();
  const Shape& src_strides = src_view.strides();
  const int64_t index_step = index_strides.back(), src_step = src_strides.back();
  const int64_t out_step = out_strides[d];
  const int64_t* pi = static_cast<const int64_t*>(index_view.data_ptr());
  const T* ps = static_cast<const T*>(src_view.data_ptr());
  T* po = out.data<T>();
#pragma omp parallel if (index_view.numel() >= kParallelGrain)
  {
    std::vector<C> acc(static_cast<size_t>(out_line));
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      int64_t rest = row, off_i = 0, off_s = 0, off_o = 0;
      for (int k = static_cast<int>(rows_shape.size()) - 2; k >= 0; --k) {
        const int64_t c = rest % rows_shape[k];
        rest /= rows_shape[k];
        off_i += c * index_strides[k];
        off_s += c * src_strides[k];
        off_o += c * out_strides[order[k]];
      }
      std::fill(acc.begin(), acc.end(), C(0));
      for (int64_t p = 0; p < line; ++p) {
        acc[pi[off_i + p * index_step]] += load(ps[off_s + p * src_step]);
      }
      for (int64_t r = 0; r < out_line; ++r) po[off_o + r * out_step] = store<T>(acc[r]);
    }
  }
}

}  // namespace

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index_in) {
  const int d = normalize_dim(dim, a.dim(), "gather");
  check_gather_shapes("gather", a.shape(), "input", index_in, d, nullptr);
  std::vector<int64_t> idx =
      checked_indices("gather", index_in, "index", a.size(d), "the size of dim");
  Tensor out = Tensor::zeros(index_in.shape(), a.dtype());
  // Walk the index's shape: out and idx are contiguous, a is read through its own strides with
  // dim's stride taken from the index value instead of the position.
  Shape a_strides = a.strides();
  const int64_t dim_stride = a_strides[d];
  a_strides[d] = 0;
  const Shape idx_strides = contiguous_strides(index_in.shape());
  T5_DISPATCH_ALL(a.dtype(), "gather", [&] {
    const scalar_t* pa = static_cast<const scalar_t*>(a.data_ptr());
    scalar_t* po = out.data<scalar_t>();
    for_each_strided<2>(
        index_in.shape(), {idx_strides.data(), a_strides.data()},
        [&](const std::array<int64_t, 2>& o) { po[o[0]] = pa[o[1] + idx[o[0]] * dim_stride]; });
  });
  return out;
}

Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index_in, const Tensor& src) {
  const int d = normalize_dim(dim, static_cast<int64_t>(shape.size()), "scatter_add");
  check_gather_shapes("scatter_add", shape, "output", index_in, d, &src);
  std::vector<int64_t> idx =
      checked_indices("scatter_add", index_in, "index", shape[d], "the size of dim");
  Tensor out = Tensor::zeros(shape, src.dtype());
  // Index and src with dim moved last: each row (all other coordinates fixed) writes one line of
  // the output along dim, so rows run in parallel and each line sums in increasing position.
  std::vector<int64_t> order;
  for (int i = 0; i < index_in.dim(); ++i) {
    if (i != d) order.push_back(i);
  }
  order.push_back(d);
  const Tensor index_view = Tensor::from_vector(idx, index_in.shape()).permute(order);
  // As torch: only the part of src covered by the index shape contributes.
  Tensor src_part = src;
  for (int i = 0; i < index_in.dim(); ++i) src_part = src_part.narrow(i, 0, index_in.size(i));
  const Tensor src_view = src_part.permute(order);
  T5_DISPATCH_FLOATING(src.dtype(), "scatter_add",
                       [&] { scatter_add_lines<scalar_t>(index_view, src_view, order, out); });
  return out;
}

Tensor concat(const std::vector<Tensor>& parts, int64_t dim) {
  int d = 0;
  const Shape out_shape = op_checks::concat_shape(parts, dim, d);
  const Tensor& first = parts[0];
  Tensor out = Tensor::zeros(out_shape, first.dtype());
  int64_t at = 0;
  for (const Tensor& p : parts) {
    copy(out.narrow(d, at, p.size(d)), p);
    at += p.size(d);
  }
  return out;
}

}  // namespace t5zero::cpu
