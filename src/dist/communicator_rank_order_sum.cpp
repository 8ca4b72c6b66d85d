#include "dist/communicator_rank_order_sum.h"

#include "dist/communicator_args.h"

namespace t5zero::dist {

namespace {

inline float widen(bf16 v) {
  return to_float(v);
}
inline float widen(float v) {
  return v;
}
inline double widen(double v) {
  return v;
}

template <typename In, typename Out>
void sum_chunks(const In* chunks, int ranks, int64_t n, Out* out) {
  // Threads split the elements; each element's sum still runs over the ranks in order.
#pragma omp parallel for schedule(static) if (n >= 65536)
  for (int64_t i = 0; i < n; ++i) {
    Out acc = widen(chunks[i]);
    for (int q = 1; q < ranks; ++q) acc += widen(chunks[q * n + i]);
    out[i] = acc;
  }
}

}  // namespace

void sum_chunks_in_rank_order(const Tensor& chunks, int ranks, Tensor& out) {
  T5_CHECK(chunks.device().is_cpu() && out.device().is_cpu() && chunks.is_contiguous() &&
               out.is_contiguous(),
           "sum_chunks_in_rank_order: expects contiguous host tensors");
  T5_CHECK(ranks >= 1 && chunks.numel() == ranks * out.numel(),
           "sum_chunks_in_rank_order: ", chunks.numel(), " chunk elements for ", ranks,
           " ranks of ", out.numel());
  T5_CHECK(out.dtype() == reduce_scatter_out_dtype(chunks.dtype()),
           "sum_chunks_in_rank_order: cannot sum ", dtype_name(chunks.dtype()), " into ",
           dtype_name(out.dtype()));
  const int64_t n = out.numel();
  switch (chunks.dtype()) {
    case DType::f32:
      sum_chunks(chunks.data<float>(), ranks, n, out.data<float>());
      return;
    case DType::bf16:
      sum_chunks(chunks.data<bf16>(), ranks, n, out.data<float>());
      return;
    case DType::f64:
      sum_chunks(chunks.data<double>(), ranks, n, out.data<double>());
      return;
    default:
      fail("sum_chunks_in_rank_order: cannot sum ", dtype_name(chunks.dtype()));
  }
}

}  // namespace t5zero::dist
