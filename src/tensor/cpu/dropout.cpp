// Dropout keyed by (seed, global element): element e = offset + linear index is dropped when the
// Philox-4x32-10 uniform for (seed, e) is below p, so every backend, partition and recomputation
// drops the same elements.
#include "tensor/cpu/cpu_ops.h"
#include "tensor/cpu/strided_loop.h"
#include "tensor/philox.h"

namespace t5zero::cpu {

namespace {

void check_probability(const char* op, double p) {
  T5_CHECK(p >= 0.0 && p <= 1.0, op, ": p must lie in [0, 1], got ", p);
}

// The comparison is made in double: u is k/2^24, exact in any type, and p is the caller's value.
// u lies in [0, 1), so p = 0 keeps and p = 1 drops every element.
inline bool dropped(uint64_t seed, uint64_t element, double p) {
  return static_cast<double>(philox_uniform_at(seed, element)) < p;
}

template <typename T>
void dropout_typed(const Tensor& x, double p, uint64_t seed, uint64_t offset, const Tensor& out) {
  using C = typename ComputeType<T>::type;
  const C scale = static_cast<C>(1.0 / (1.0 - p));
  const int64_t n = x.numel();
  const T* px = x.data<T>();
  T* po = out.data<T>();
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    if (!dropped(seed, offset + static_cast<uint64_t>(i), p)) po[i] = store<T>(load(px[i]) * scale);
  }
}

}  // namespace

Tensor dropout(const Tensor& x_in, double p, uint64_t seed, uint64_t offset) {
  check_probability("dropout", p);
  T5_CHECK(is_floating(x_in.dtype()), "dropout: expected a floating dtype (f32, f64, bf16), got ",
           dtype_name(x_in.dtype()));
  if (p == 0.0) return x_in.clone();
  if (p == 1.0) return Tensor::zeros(x_in.shape(), x_in.dtype());  // as torch: all dropped, no 1/0
  Tensor out = Tensor::zeros(x_in.shape(), x_in.dtype());  // dropped elements stay 0
  Tensor x = x_in.contiguous();
  T5_DISPATCH_FLOATING(x.dtype(), "dropout",
                       [&] { dropout_typed<scalar_t>(x, p, seed, offset, out); });
  return out;
}

Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset) {
  check_probability("dropout_mask", p);
  Tensor mask = Tensor::zeros(shape, DType::u8);
  const int64_t n = mask.numel();
  uint8_t* pm = mask.data<uint8_t>();
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    pm[i] = dropped(seed, offset + static_cast<uint64_t>(i), p) ? 0 : 1;
  }
  return mask;
}

}  // namespace t5zero::cpu
