// The strided walkers of the CPU kernels (tensor/cpu/strided_loop.h): every row and element once,
// at the right offset of each operand, with any strides (permuted, broadcast), on several threads.
#include <doctest/doctest.h>
#include <omp.h>

#include <vector>

#include "tensor/cpu/strided_loop.h"

using namespace t5zero;
using namespace t5zero::cpu;

namespace {

// Offset of logical element `linear` (row-major over shape) under `strides`.
int64_t offset_of(int64_t linear, const Shape& shape, const Shape& strides) {
  int64_t offset = 0;
  for (size_t d = shape.size(); d-- > 0;) {
    offset += (linear % shape[d]) * strides[d];
    linear /= shape[d];
  }
  return offset;
}

}  // namespace

TEST_CASE("for_each_strided_row and for_each_strided visit each position once, in parallel") {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(3);
  // [3, 5, 7, 400]: 42000 elements, above the parallel grain; operand 0 contiguous (it numbers
  // the rows), operand 1 permuted with a broadcast dim.
  const Shape shape{3, 5, 7, 400};
  const Shape contiguous{5 * 7 * 400, 7 * 400, 400, 1};
  const Shape strided{1, 0, 3 * 400, 3};  // dim 1 broadcast; dims 0 and 3 interleaved
  const int64_t rows = 3 * 5 * 7;
  std::vector<int> visits(rows, 0);
  std::vector<int64_t> second(rows, -1);
  std::vector<int64_t> lengths(rows, 0);
  for_each_strided_row<2>(shape, {contiguous.data(), strided.data()},
                          [&](const std::array<int64_t, 2>& offsets, int64_t length) {
                            const int64_t row = offsets[0] / 400;
                            ++visits[row];
                            second[row] = offsets[1];
                            lengths[row] = length;
                          });
  for (int64_t row = 0; row < rows; ++row) {
    CAPTURE(row);
    CHECK(visits[row] == 1);
    CHECK(lengths[row] == 400);
    CHECK(second[row] == offset_of(row * 400, shape, strided));
  }
  // Element by element: the second operand's offset of every element.
  std::vector<int64_t> element_offset(static_cast<size_t>(shape_numel(shape)), -1);
  for_each_strided<2>(shape, {contiguous.data(), strided.data()},
                      [&](const std::array<int64_t, 2>& offsets) {
                        element_offset[static_cast<size_t>(offsets[0])] = offsets[1];
                      });
  int64_t wrong = 0;
  for (int64_t i = 0; i < shape_numel(shape); ++i) {
    wrong += element_offset[static_cast<size_t>(i)] != offset_of(i, shape, strided);
  }
  CHECK(wrong == 0);
  omp_set_num_threads(saved);
}

TEST_CASE("rank 0 is one row of one element; an empty shape is no row") {
  int calls = 0;
  for_each_strided_row<1>(Shape{}, {nullptr}, [&](const std::array<int64_t, 1>& o, int64_t n) {
    CHECK(o[0] == 0);
    CHECK(n == 1);
    ++calls;
  });
  CHECK(calls == 1);
  const Shape empty{4, 0, 3}, strides{0, 3, 1};
  for_each_strided_row<1>(empty, {strides.data()},
                          [&](const std::array<int64_t, 1>&, int64_t) { ++calls; });
  CHECK(calls == 1);
}

TEST_CASE("for_each_range covers [0, n) in one range per thread") {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(3);
  const int64_t n = 100000;
  std::vector<int> seen(n, 0);
  for_each_range(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) ++seen[i];
  });
  int64_t wrong = 0;
  for (int v : seen) wrong += v != 1;
  CHECK(wrong == 0);
  omp_set_num_threads(saved);
}
