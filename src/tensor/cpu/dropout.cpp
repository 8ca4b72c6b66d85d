// Dropout keyed by (seed, global element): element e = offset + linear index is dropped when the
// Philox-4x32-10 uniform for (seed, e) is below p, so every backend, partition and recomputation
// drops the same elements.
//
// One Philox block gives the uniforms of four consecutive elements (philox_uniform_at takes word
// e % 4 of block e / 4), so the kernels draw whole blocks, sixteen at a time in a loop GCC
// vectorizes, and compare integers: u = k·2^-24 < p exactly when k < ceil(p·2^24).
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "tensor/cpu/cpu_ops.h"
#include "tensor/cpu/strided_loop.h"
#include "tensor/cpu/vector_math.h"
#include "tensor/philox.h"

namespace t5zero::cpu {

namespace {

void check_probability(const char* op, double p) {
  T5_CHECK(p >= 0.0 && p <= 1.0, op, ": p must lie in [0, 1], got ", p);
}

// Elements whose keep flags one call of keep_flags computes: 64 Philox blocks, enough for the
// vectorizer to use 16 lanes.
constexpr int64_t kChunk = 256;

// The 24-bit integer k of each uniform is compared with this: dropped when k < threshold.
uint32_t drop_threshold(double p) {
  return static_cast<uint32_t>(std::ceil(p * 16777216.0));  // p·2^24 is exact in double
}

// keep[j] = 1 when global element chunk·64 + j is kept.
[[gnu::always_inline]] inline void keep_flags(uint64_t chunk, uint64_t seed, uint32_t threshold,
                                              uint8_t keep[kChunk]) {
  const uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
  const uint64_t first_block = chunk * (kChunk / 4);
  for (int64_t b = 0; b < kChunk / 4; ++b) {
    const uint64_t block = first_block + static_cast<uint64_t>(b);
    const Philox4 out = philox4x32_10(
        Philox4{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}}, key0,
        key1);
    for (int w = 0; w < 4; ++w) keep[4 * b + w] = (out.v[w] >> 8) >= threshold ? 1 : 0;
  }
}

// The elements [0, n) of a tensor whose element 0 is global element `offset`.
struct DropoutSpan {
  int64_t n;
  uint64_t offset;
  uint64_t seed;
  uint32_t threshold;
};

// body(i, keep) for the tensor's elements in global chunks [first, last).
template <typename Body>
T5_VECTOR_CLONES void keep_flag_chunks(uint64_t first, uint64_t last, const DropoutSpan& span,
                                       const Body& body) {
  for (uint64_t chunk = first; chunk < last; ++chunk) {
    uint8_t keep[kChunk];
    keep_flags(chunk, span.seed, span.threshold, keep);
    // This chunk's elements that lie in [offset, offset + n), as indices of the tensor.
    const int64_t chunk_start =
        static_cast<int64_t>(chunk * kChunk) - static_cast<int64_t>(span.offset);
    const int64_t begin = std::max<int64_t>(0, chunk_start);
    const int64_t end = std::min<int64_t>(span.n, chunk_start + kChunk);
    for (int64_t i = begin; i < end; ++i) body(i, keep[i - chunk_start]);
  }
}

// Calls body(i, keep) for every element i in [0, n) with its keep flag, chunk by chunk in
// parallel. Chunks are aligned to global elements, so element i's flag is that of offset + i.
template <typename Body>
void for_each_keep_flag(int64_t n, double p, uint64_t seed, uint64_t offset, const Body& body) {
  const DropoutSpan span{n, offset, seed, drop_threshold(p)};
  const uint64_t first_chunk = offset / kChunk;
  const uint64_t end_chunk = (offset + static_cast<uint64_t>(n) + kChunk - 1) / kChunk;
  const uint64_t chunks = end_chunk - first_chunk;
#pragma omp parallel if (n >= kParallelGrain)
  {
    const uint64_t threads = static_cast<uint64_t>(omp_get_num_threads());
    const uint64_t tid = static_cast<uint64_t>(omp_get_thread_num());
    keep_flag_chunks(first_chunk + chunks * tid / threads,
                     first_chunk + chunks * (tid + 1) / threads, span, body);
  }
}

template <typename T>
void dropout_typed(const Tensor& x, double p, uint64_t seed, uint64_t offset, const Tensor& out) {
  using C = typename ComputeType<T>::type;
  const C scale = static_cast<C>(1.0 / (1.0 - p));
  const T* px = x.data<T>();
  T* po = out.data<T>();
  for_each_keep_flag(
      x.numel(), p, seed, offset, [&](int64_t i, uint8_t keep) __attribute__((always_inline)) {
        const C kept = load(px[i]) * scale;  // read unconditionally: a select vectorizes
        po[i] = store<T>(keep ? kept : C(0));
      });
}

}  // namespace

Tensor dropout(const Tensor& x_in, double p, uint64_t seed, uint64_t offset) {
  check_probability("dropout", p);
  T5_CHECK(is_floating(x_in.dtype()), "dropout: expected a floating dtype (f32, f64, bf16), got ",
           dtype_name(x_in.dtype()));
  if (p == 0.0) return x_in.clone();
  if (p == 1.0) return Tensor::zeros(x_in.shape(), x_in.dtype());  // as torch: all dropped, no 1/0
  Tensor out = Tensor::empty(x_in.shape(), x_in.dtype());          // every element written below
  Tensor x = x_in.contiguous();
  T5_DISPATCH_FLOATING(x.dtype(), "dropout",
                       [&] { dropout_typed<scalar_t>(x, p, seed, offset, out); });
  return out;
}

Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset) {
  check_probability("dropout_mask", p);
  Tensor mask = Tensor::empty(shape, DType::u8);
  uint8_t* pm = mask.data<uint8_t>();
  for_each_keep_flag(
      mask.numel(), p, seed,
      offset, [&](int64_t i, uint8_t keep) __attribute__((always_inline)) { pm[i] = keep; });
  return mask;
}

}  // namespace t5zero::cpu
