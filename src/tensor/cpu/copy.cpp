// Strided copy with dtype conversion: the kernel behind contiguous(), clone(), to() and copy_().
#include "tensor/cpu/cpu_ops.h"
#include "tensor/cpu/strided_loop.h"

namespace t5zero::cpu {

namespace {
template <typename Dst, typename Src>
void copy_typed(const Tensor& dst, const Tensor& src) {
  Dst* d = static_cast<Dst*>(dst.data_ptr());
  const Src* s = static_cast<const Src*>(src.data_ptr());
  if (dst.is_contiguous() && src.is_contiguous()) {
    const int64_t n = dst.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) d[i] = store<Dst>(load(s[i]));
    return;
  }
  const std::array<const int64_t*, 2> strides{dst.strides().data(), src.strides().data()};
  if (dst.dim() > 0 && dst.stride(-1) == 1 && src.stride(-1) == 1) {
    // Rows contiguous on both sides (a permute that keeps the last dim: attention heads).
    for_each_strided_row<2>(dst.shape(), strides,
                            [&](const std::array<int64_t, 2>& o, int64_t length) {
                              Dst* dr = d + o[0];
                              const Src* sr = s + o[1];
                              for (int64_t j = 0; j < length; ++j) dr[j] = store<Dst>(load(sr[j]));
                            });
    return;
  }
  for_each_strided<2>(dst.shape(), strides, [&](const std::array<int64_t, 2>& o) {
    d[o[0]] = store<Dst>(load(s[o[1]]));
  });
}
template <typename Dst>
void copy_to(const Tensor& dst, const Tensor& src) {
  T5_DISPATCH_ALL(src.dtype(), "copy", [&] { copy_typed<Dst, scalar_t>(dst, src); });
}
}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  T5_CHECK(dst.shape() == src.shape(), "copy: destination ", shape_str(dst.shape()), " and source ",
           shape_str(src.shape()), " differ");
  T5_DISPATCH_ALL(dst.dtype(), "copy", [&] { copy_to<scalar_t>(dst, src); });
}

void fill(const Tensor& dst, double value) {
  T5_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    scalar_t v = store<scalar_t>(value);
    scalar_t* d = dst.data<scalar_t>();
    std::array<const int64_t*, 1> strides{dst.strides().data()};
    for_each_strided<1>(dst.shape(), strides,
                        [&](const std::array<int64_t, 1>& o) { d[o[0]] = v; });
  });
}

}  // namespace t5zero::cpu
