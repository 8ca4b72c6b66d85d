// Walks N operands of one shape with their own strides (stride 0 = broadcast), in parallel.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>

#include "tensor/shape.h"

namespace t5zero::cpu {

// Below this many elements a loop runs on one thread: spawning costs more than it saves.
constexpr int64_t kParallelGrain = 32768;

// Calls body(begin, end) on one contiguous range of [0, n) per OpenMP thread (one call on the
// calling thread below kParallelGrain elements).
template <typename Body>
void for_each_range(int64_t n, Body&& body) {
  if (n <= 0) return;
#pragma omp parallel if (n >= kParallelGrain)
  {
    const int64_t threads = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t begin = n * tid / threads, end = n * (tid + 1) / threads;
    if (begin < end) body(begin, end);
  }
}

// Calls row(offsets, length) once per row of the last dimension, where offsets[i] is operand i's
// element offset of the row's first element and length the last dimension's size. Rows are split
// into one contiguous range per OpenMP thread, each walked with an odometer (an add per row, not
// a division per dimension). Callers write the inner loop, so it can be a vectorized one.
template <size_t N, typename Row>
void for_each_strided_row(const Shape& shape, const std::array<const int64_t*, N>& strides,
                          Row&& row) {
  const int rank = static_cast<int>(shape.size());
  const int64_t numel = shape_numel(shape);
  if (numel == 0) return;
  if (rank == 0) {
    row(std::array<int64_t, N>{}, int64_t{1});
    return;
  }
  const int64_t inner = shape[rank - 1];
  const int64_t rows = numel / inner;
#pragma omp parallel if (numel >= kParallelGrain)
  {
    const int64_t threads = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t begin = rows * tid / threads, end = rows * (tid + 1) / threads;
    // Index of row `begin` in the outer dims, and each operand's offset there.
    std::array<int64_t, N> offsets{};
    Shape index(static_cast<size_t>(rank), 0);
    int64_t rest = begin;
    for (int d = rank - 2; d >= 0; --d) {
      index[d] = rest % shape[d];
      rest /= shape[d];
      for (size_t i = 0; i < N; ++i) offsets[i] += index[d] * strides[i][d];
    }
    for (int64_t r = begin; r < end; ++r) {
      row(offsets, inner);
      for (int d = rank - 2; d >= 0; --d) {
        for (size_t i = 0; i < N; ++i) offsets[i] += strides[i][d];
        if (++index[d] < shape[d]) break;
        for (size_t i = 0; i < N; ++i) offsets[i] -= index[d] * strides[i][d];
        index[d] = 0;
      }
    }
  }
}

// Calls body(offsets) once per element, where offsets[i] is operand i's element offset. The last
// dimension is the inner loop; rows are split across OpenMP threads.
template <size_t N, typename Body>
void for_each_strided(const Shape& shape, const std::array<const int64_t*, N>& strides,
                      Body&& body) {
  std::array<int64_t, N> inner_stride{};
  if (!shape.empty()) {
    for (size_t i = 0; i < N; ++i) inner_stride[i] = strides[i][shape.size() - 1];
  }
  for_each_strided_row<N>(shape, strides, [&](std::array<int64_t, N> offsets, int64_t length) {
    for (int64_t j = 0; j < length; ++j) {
      body(offsets);
      for (size_t i = 0; i < N; ++i) offsets[i] += inner_stride[i];
    }
  });
}

}  // namespace t5zero::cpu
