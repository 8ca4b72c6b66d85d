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

}  // namespace t5zero
