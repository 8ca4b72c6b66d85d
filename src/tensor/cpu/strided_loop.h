// Walks N operands of one shape with their own strides (stride 0 = broadcast), in parallel.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/shape.h"

namespace t5zero::cpu {

// Below this many elements a loop runs on one thread: spawning costs more than it saves.
constexpr int64_t kParallelGrain = 32768;

// Calls body(offsets) once per element, where offsets[i] is operand i's element offset. The last
// dimension is the inner loop; the other dimensions are split across OpenMP threads.
template <size_t N, typename Body>
void for_each_strided(const Shape& shape, const std::array<const int64_t*, N>& strides,
                      Body&& body) {
  const int rank = static_cast<int>(shape.size());
  const int64_t numel = shape_numel(shape);
  if (numel == 0) return;
  if (rank == 0) {
    std::array<int64_t, N> offsets{};
    body(offsets);
    return;
  }
  const int64_t inner = shape[rank - 1];
  const int64_t rows = numel / inner;
  std::array<int64_t, N> inner_stride;
  for (size_t i = 0; i < N; ++i) inner_stride[i] = strides[i][rank - 1];
#pragma omp parallel for schedule(static) if (numel >= kParallelGrain)
  for (int64_t row = 0; row < rows; ++row) {
    std::array<int64_t, N> offsets{};
    int64_t rest = row;
    for (int d = rank - 2; d >= 0; --d) {
      int64_t idx = rest % shape[d];
      rest /= shape[d];
      for (size_t i = 0; i < N; ++i) offsets[i] += idx * strides[i][d];
    }
    for (int64_t j = 0; j < inner; ++j) {
      body(offsets);
      for (size_t i = 0; i < N; ++i) offsets[i] += inner_stride[i];
    }
  }
}

}  // namespace t5zero::cpu
