// Indexing ops on the GPU with the CPU backend's semantics (cpu/index.cpp): embedding lookups,
// index_select / index_add, gather / scatter_add, concat. Indices are copied to the host and
// bounds-checked there, with the CPU's messages, before any element moves. The gradient ops sum
// in the CPU's order without atomics: the host sorts the positions by destination (a counting
// sort), and each destination element sums its sources in increasing position.
#include <algorithm>
#include <vector>

#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/kernel_common.cuh"
#include "tensor/op_checks.h"

namespace t5zero::cuda {

namespace {

using op_checks::check_index_dtype;
using op_checks::checked_indices;

// A host vector on `device` (as a 1-D tensor), for index lists the host built.
Tensor upload(const std::vector<int64_t>& values, Device device) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}).to(device);
}

const int64_t* i64_data(const Tensor& t) {
  return static_cast<const int64_t*>(t.data_ptr());
}

// ---- selecting slices (embedding, index_select): bytes move in the widest aligned unit -------
template <typename Unit>
__global__ void select_slices_kernel(const Unit* src, Unit* dst, const int64_t* index,
                                     int64_t outer, int64_t n, int64_t size, int64_t units) {
  const int64_t total = outer * n * units;
  for (int64_t k = global_thread(); k < total; k += grid_threads()) {
    const int64_t u = k % units;
    const int64_t on = k / units;
    const int64_t o = on / n, i = on % n;
    dst[k] = src[(o * size + index[i]) * units + u];
  }
}

template <typename Unit>
void launch_select(const Tensor& a, const Tensor& index, const AroundDim& in, int64_t n,
                   const Tensor& out, int64_t slice_bytes) {
  const int64_t units = slice_bytes / static_cast<int64_t>(sizeof(Unit));
  select_slices_kernel<Unit><<<blocks_for(in.outer * n * units), kThreads, 0, stream_of(out)>>>(
      static_cast<const Unit*>(a.data_ptr()), static_cast<Unit*>(out.data_ptr()), i64_data(index),
      in.outer, n, in.size, units);
}

// out[o, i, :] = a[o, index[i], :] for contiguous a and out of any dtype.
void select_slices(const char* op, const Tensor& a, const Tensor& index, const AroundDim& in,
                   int64_t n, const Tensor& out) {
  if (in.outer * n * in.inner == 0) return;
  DeviceGuard guard(out.device());
  const int64_t slice_bytes = in.inner * static_cast<int64_t>(dtype_size(a.dtype()));
  const uintptr_t addresses =
      reinterpret_cast<uintptr_t>(a.data_ptr()) | reinterpret_cast<uintptr_t>(out.data_ptr());
  auto fits = [&](int64_t unit) {
    return slice_bytes % unit == 0 && addresses % static_cast<uintptr_t>(unit) == 0;
  };
  if (fits(16)) {
    launch_select<uint4>(a, index, in, n, out, slice_bytes);
  } else if (fits(8)) {
    launch_select<uint2>(a, index, in, n, out, slice_bytes);
  } else if (fits(4)) {
    launch_select<uint32_t>(a, index, in, n, out, slice_bytes);
  } else if (fits(2)) {
    launch_select<uint16_t>(a, index, in, n, out, slice_bytes);
  } else {
    launch_select<uint8_t>(a, index, in, n, out, slice_bytes);
  }
  T5_CUDA_CHECK_LAUNCH(op);
}

// ---- summing sources by destination (embedding_backward, index_add) --------------------------
// Positions grouped by destination, in increasing position within each group: group g covers
// position[start[g], start[g + 1]) and writes destination row[g].
struct Groups {
  std::vector<int64_t> row, start, position;
};

Groups group_by_destination(const std::vector<int64_t>& destination, int64_t destinations) {
  std::vector<int64_t> count(static_cast<size_t>(destinations) + 1, 0);
  for (int64_t d : destination) ++count[d + 1];
  for (int64_t r = 0; r < destinations; ++r) count[r + 1] += count[r];
  Groups g;
  g.position.resize(destination.size());
  std::vector<int64_t> next(count.begin(), count.end() - 1);
  for (size_t p = 0; p < destination.size(); ++p) {
    g.position[next[destination[p]]++] = static_cast<int64_t>(p);
  }
  for (int64_t r = 0; r < destinations; ++r) {
    if (count[r] == count[r + 1]) continue;
    g.row.push_back(r);
    g.start.push_back(count[r]);
  }
  g.start.push_back(static_cast<int64_t>(destination.size()));
  return g;
}

// out[o, row[g], j] = Σ_{k in group g} src[o, position[k], j] (in increasing k), in C.
// src is contiguous [outer, n, inner]; out contiguous [outer, out_size, inner], zeroed.
template <typename T>
__global__ void sum_groups_kernel(const T* src, const int64_t* row, const int64_t* start,
                                  const int64_t* position, int64_t groups, int64_t outer, int64_t n,
                                  int64_t out_size, int64_t inner, T* out) {
  using C = compute_t<T>;
  const int64_t total = outer * groups * inner;
  for (int64_t k = global_thread(); k < total; k += grid_threads()) {
    const int64_t j = k % inner;
    const int64_t og = k / inner;
    const int64_t g = og % groups, o = og / groups;
    C acc = 0;
    for (int64_t p = start[g]; p < start[g + 1]; ++p) {
      acc += load_value(src[(o * n + position[p]) * inner + j]);
    }
    out[(o * out_size + row[g]) * inner + j] = store_value<T>(acc);
  }
}

void sum_groups(const char* op, const Tensor& src, const std::vector<int64_t>& destination,
                int64_t outer, int64_t n, int64_t out_size, int64_t inner, const Tensor& out) {
  const Groups groups = group_by_destination(destination, out_size);
  const int64_t count = static_cast<int64_t>(groups.row.size());
  if (outer * count * inner == 0) return;
  const Tensor row = upload(groups.row, out.device());
  const Tensor start = upload(groups.start, out.device());
  const Tensor position = upload(groups.position, out.device());
  DeviceGuard guard(out.device());
  T5_DISPATCH_FLOATING(src.dtype(), op, [&] {
    sum_groups_kernel<scalar_t><<<blocks_for(outer * count * inner), kThreads, 0, stream_of(out)>>>(
        static_cast<const scalar_t*>(src.data_ptr()), i64_data(row), i64_data(start),
        i64_data(position), count, outer, n, out_size, inner,
        static_cast<scalar_t*>(out.data_ptr()));
  });
  T5_CUDA_CHECK_LAUNCH(op);
}

// ---- gather / scatter_add ----------------------------------------------------------------------
template <typename T>
__global__ void gather_kernel(const T* a, const int64_t* index, StridedLayout<2> layout,
                              int64_t dim_stride, int64_t n, T* out) {
  for (int64_t k = global_thread(); k < n; k += grid_threads()) {
    int64_t off[2];
    layout.offsets(k, off);
    out[k] = a[off[1] + index[k] * dim_stride];
  }
}

// One thread per line along dim: acc[off_o + index · out_step] += src, in increasing position.
// Lines of different threads write different output lines, so no two threads meet.
template <typename T>
__global__ void scatter_add_lines_kernel(const int64_t* index, const T* src, StridedLayout<3> rows,
                                         int64_t num_rows, int64_t line, int64_t index_step,
                                         int64_t src_step, int64_t out_step, compute_t<T>* acc) {
  for (int64_t r = global_thread(); r < num_rows; r += grid_threads()) {
    int64_t off[3];
    rows.offsets(r, off);
    for (int64_t p = 0; p < line; ++p) {
      acc[off[2] + index[off[0] + p * index_step] * out_step] +=
          load_value(src[off[1] + p * src_step]);
    }
  }
}

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

}  // namespace

Tensor embedding(const Tensor& weight_in, const Tensor& ids) {
  gpu_of("embedding", weight_in);
  T5_CHECK(weight_in.dim() == 2, "embedding: weight must be [rows, dim], got ",
           shape_str(weight_in.shape()));
  const int64_t rows = weight_in.size(0), width = weight_in.size(1);
  const std::vector<int64_t> id =
      checked_indices("embedding", ids, "id", rows, "the weight's rows");
  const Tensor weight = weight_in.contiguous();
  Shape out_shape = ids.shape();
  out_shape.push_back(width);
  Tensor out = Tensor::empty(out_shape, weight.dtype(), weight.device());
  const Tensor device_ids = ids.to(DType::i64).contiguous();
  select_slices("embedding", weight, device_ids, AroundDim{1, rows, width},
                static_cast<int64_t>(id.size()), out);
  return out;
}

Tensor embedding_backward(const Tensor& grad_in, const Tensor& ids, int64_t num_rows) {
  gpu_of("embedding_backward", grad_in);
  check_index_dtype("embedding_backward", ids, "ids");
  T5_CHECK(grad_in.dim() == ids.dim() + 1, "embedding_backward: grad ", shape_str(grad_in.shape()),
           " must be ids ", shape_str(ids.shape()), " plus one dim");
  Shape expected = ids.shape();
  expected.push_back(grad_in.shape().back());
  T5_CHECK(grad_in.shape() == expected, "embedding_backward: grad ", shape_str(grad_in.shape()),
           " does not match ids ", shape_str(ids.shape()));
  T5_CHECK(is_floating(grad_in.dtype()), "embedding_backward: expected a floating dtype, got ",
           dtype_name(grad_in.dtype()));
  const int64_t width = expected.back();
  const std::vector<int64_t> id =
      checked_indices("embedding_backward", ids, "id", num_rows, "the weight's rows");
  const Tensor grad = grad_in.contiguous();
  Tensor out = Tensor::zeros({num_rows, width}, grad.dtype(), grad.device());
  sum_groups("embedding_backward", grad, id, 1, static_cast<int64_t>(id.size()), num_rows, width,
             out);
  return out;
}

Tensor index_select(const Tensor& a_in, int64_t dim, const Tensor& index) {
  gpu_of("index_select", a_in);
  T5_CHECK(a_in.dim() >= 1, "index_select: input must have at least 1 dim");
  const int d = normalize_dim(dim, a_in.dim(), "index_select");
  T5_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got ", shape_str(index.shape()));
  const std::vector<int64_t> idx =
      checked_indices("index_select", index, "index", a_in.size(d), "the size of dim");
  const Tensor a = a_in.contiguous();
  Shape out_shape = a.shape();
  out_shape[d] = static_cast<int64_t>(idx.size());
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  const Tensor device_index = index.to(DType::i64).contiguous();
  select_slices("index_select", a, device_index, around_dim(a.shape(), d),
                static_cast<int64_t>(idx.size()), out);
  return out;
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src_in) {
  gpu_of("index_add", src_in);
  T5_CHECK(!shape.empty(), "index_add: the output must have at least 1 dim");
  const int d = normalize_dim(dim, static_cast<int64_t>(shape.size()), "index_add");
  T5_CHECK(index.dim() <= 1, "index_add: index must be 1-D, got ", shape_str(index.shape()));
  const std::vector<int64_t> idx =
      checked_indices("index_add", index, "index", shape[d], "the size of dim");
  Shape expected = shape;
  expected[d] = static_cast<int64_t>(idx.size());
  T5_CHECK(src_in.shape() == expected, "index_add: src must be ", shape_str(expected), ", got ",
           shape_str(src_in.shape()));
  T5_CHECK(is_floating(src_in.dtype()), "index_add: expected a floating dtype, got ",
           dtype_name(src_in.dtype()));
  const Tensor src = src_in.contiguous();
  Tensor out = Tensor::zeros(shape, src.dtype(), src.device());
  const AroundDim o = around_dim(shape, d);
  sum_groups("index_add", src, idx, o.outer, static_cast<int64_t>(idx.size()), o.size, o.inner,
             out);
  return out;
}

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index_in) {
  gpu_of("gather", a);
  const int d = normalize_dim(dim, a.dim(), "gather");
  check_gather_shapes("gather", a.shape(), "input", index_in, d, nullptr);
  checked_indices("gather", index_in, "index", a.size(d), "the size of dim");
  Tensor out = Tensor::empty(index_in.shape(), a.dtype(), a.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  const Tensor index = index_in.to(DType::i64).contiguous();
  // Walk the index's shape: a is read through its own strides, with dim's position taken from
  // the index value instead.
  Shape a_strides = a.strides();
  const int64_t dim_stride = a_strides[d];
  a_strides[d] = 0;
  const Shape index_strides = contiguous_strides(index_in.shape());
  const StridedLayout<2> layout = make_layout<2>(index_in.shape(), {&index_strides, &a_strides});
  DeviceGuard guard(a.device());
  T5_DISPATCH_ALL(a.dtype(), "gather", [&] {
    gather_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream_of(a)>>>(
        static_cast<const scalar_t*>(a.data_ptr()), i64_data(index), layout, dim_stride, n,
        static_cast<scalar_t*>(out.data_ptr()));
  });
  T5_CUDA_CHECK_LAUNCH("gather");
  return out;
}

Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index_in, const Tensor& src) {
  gpu_of("scatter_add", src);
  const int d = normalize_dim(dim, static_cast<int64_t>(shape.size()), "scatter_add");
  check_gather_shapes("scatter_add", shape, "output", index_in, d, &src);
  checked_indices("scatter_add", index_in, "index", shape[d], "the size of dim");
  T5_CHECK(is_floating(src.dtype()), "scatter_add: expected a floating dtype, got ",
           dtype_name(src.dtype()));
  const DType acc_dtype = src.dtype() == DType::f64 ? DType::f64 : DType::f32;
  Tensor acc = Tensor::zeros(shape, acc_dtype, src.device());
  if (index_in.numel() > 0) {
    // Index and src with dim moved last: each row (all other coordinates fixed) adds into one
    // line of the output along dim.
    std::vector<int64_t> order;
    for (int i = 0; i < index_in.dim(); ++i) {
      if (i != d) order.push_back(i);
    }
    order.push_back(d);
    const Tensor index_view = index_in.to(DType::i64).contiguous().permute(order);
    Tensor src_part = src;  // as torch: only the part covered by the index shape contributes
    for (int i = 0; i < index_in.dim(); ++i) src_part = src_part.narrow(i, 0, index_in.size(i));
    const Tensor src_view = src_part.permute(order);
    const Shape acc_strides = contiguous_strides(shape);
    Shape out_row_strides;
    for (size_t k = 0; k + 1 < order.size(); ++k) out_row_strides.push_back(acc_strides[order[k]]);
    const Shape rows_shape(index_view.shape().begin(), index_view.shape().end() - 1);
    const Shape index_row_strides(index_view.strides().begin(), index_view.strides().end() - 1);
    const Shape src_row_strides(src_view.strides().begin(), src_view.strides().end() - 1);
    const StridedLayout<3> rows =
        make_layout<3>(rows_shape, {&index_row_strides, &src_row_strides, &out_row_strides});
    const int64_t line = index_view.shape().back();
    const int64_t num_rows = index_view.numel() / line;
    DeviceGuard guard(src.device());
    T5_DISPATCH_FLOATING(src.dtype(), "scatter_add", [&] {
      using C = compute_t<scalar_t>;
      scatter_add_lines_kernel<scalar_t><<<blocks_for(num_rows), kThreads, 0, stream_of(src)>>>(
          i64_data(index_view), static_cast<const scalar_t*>(src_view.data_ptr()), rows, num_rows,
          line, index_view.strides().back(), src_view.strides().back(), acc_strides[d],
          static_cast<C*>(acc.data_ptr()));
    });
    T5_CUDA_CHECK_LAUNCH("scatter_add");
  }
  return acc.to(src.dtype());
}

Tensor concat(const std::vector<Tensor>& parts, int64_t dim) {
  int d = 0;
  const Shape out_shape = op_checks::concat_shape(parts, dim, d);
  const Tensor& first = parts[0];
  gpu_of("concat", first);
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  int64_t at = 0;
  for (const Tensor& p : parts) {
    copy(out.narrow(d, at, p.size(d)), p);
    at += p.size(d);
  }
  return out;
}

}  // namespace t5zero::cuda
