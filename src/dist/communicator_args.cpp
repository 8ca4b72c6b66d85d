#include "dist/communicator_args.h"

#include <cstddef>

namespace t5zero::dist {

namespace {

void check_tensor(const char* collective, const char* role, const Tensor& t) {
  T5_CHECK(t.defined(), collective, ": `", role, "` is an undefined tensor");
  T5_CHECK(t.is_contiguous(), collective, ": `", role, "` must be contiguous (shape ",
           shape_str(t.shape()), ", strides ", shape_str(t.strides()), ")");
}

}  // namespace

int64_t check_all_gather_args(const Tensor& local, const Tensor& out, int world_size) {
  check_tensor("all_gather", "local", local);
  check_tensor("all_gather", "out", out);
  T5_CHECK(out.dtype() == local.dtype(), "all_gather: `out` is ", dtype_name(out.dtype()),
           ", `local` is ", dtype_name(local.dtype()), " (expected the same dtype)");
  const int64_t n = local.numel();
  T5_CHECK(out.numel() == world_size * n, "all_gather: `out` has ", out.numel(),
           " elements, expected world size ", world_size, " x local ", n, " = ", world_size * n);
  return n;
}

bool all_gather_is_in_place(const Tensor& local, const Tensor& out, int rank) {
  if (local.device() != out.device() || local.numel() == 0) return false;
  const auto element = static_cast<int64_t>(dtype_size(local.dtype()));
  const auto* local_begin = static_cast<const std::byte*>(local.data_ptr());
  const auto* out_begin = static_cast<const std::byte*>(out.data_ptr());
  const std::byte* local_end = local_begin + local.numel() * element;
  const std::byte* out_end = out_begin + out.numel() * element;
  if (local_begin == out_begin + rank * local.numel() * element) return true;
  T5_CHECK(local_end <= out_begin || out_end <= local_begin,
           "all_gather: `local` overlaps `out` but is not rank ", rank,
           "'s slot of it (an in-place gather passes exactly that slot)");
  return false;
}

DType reduce_scatter_out_dtype(DType in) {
  return in == DType::f64 ? DType::f64 : DType::f32;
}

int64_t check_reduce_scatter_args(const Tensor& in, const Tensor& out, int world_size) {
  check_tensor("reduce_scatter_sum", "in", in);
  check_tensor("reduce_scatter_sum", "out", out);
  const DType dtype = in.dtype();
  T5_CHECK(dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f64,
           "reduce_scatter_sum: `in` is ", dtype_name(dtype), ", expected f32, bf16 or f64");
  T5_CHECK(out.dtype() == reduce_scatter_out_dtype(dtype), "reduce_scatter_sum: `out` is ",
           dtype_name(out.dtype()), ", expected ", dtype_name(reduce_scatter_out_dtype(dtype)),
           " for ", dtype_name(dtype), " `in` (sums accumulate in f32, f64 for f64)");
  T5_CHECK(in.numel() % world_size == 0, "reduce_scatter_sum: `in` has ", in.numel(),
           " elements, not a multiple of the world size ", world_size);
  const int64_t n = in.numel() / world_size;
  T5_CHECK(out.numel() == n, "reduce_scatter_sum: `out` has ", out.numel(), " elements, expected ",
           n, " (`in`'s ", in.numel(), " / world size ", world_size, ")");
  return n;
}

void check_broadcast_root(int root, int world_size) {
  T5_CHECK(root >= 0 && root < world_size, "broadcast: root ", root,
           " is not a rank of a world of size ", world_size);
}

}  // namespace t5zero::dist
