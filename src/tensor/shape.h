// Shapes and strides, and the arithmetic of broadcasting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace t5zero {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
// Row-major strides in elements.
Shape contiguous_strides(const Shape& shape);
// numpy broadcasting of two shapes; an error names both when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Maps a possibly negative dimension into [0, rank); errors name the op.
int normalize_dim(int64_t dim, int64_t rank, const char* op);
// "[2, 3, 4]"
std::string shape_str(const Shape& shape);

// A contiguous shape viewed as [outer, size(dim), inner]: how index ops walk one dim.
struct AroundDim {
  int64_t outer = 1;
  int64_t size = 1;
  int64_t inner = 1;
};
inline AroundDim around_dim(const Shape& shape, int d) {
  AroundDim a;
  for (int i = 0; i < d; ++i) a.outer *= shape[static_cast<size_t>(i)];
  a.size = shape[static_cast<size_t>(d)];
  for (size_t i = static_cast<size_t>(d) + 1; i < shape.size(); ++i) a.inner *= shape[i];
  return a;
}

}  // namespace t5zero
