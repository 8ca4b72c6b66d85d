// Percentiles as numpy computes them by default (method="linear"): the q-th percentile of n
// sorted values sits at virtual index (q/100)·(n−1), linearly interpolated between its two
// neighbours. The reference recipe takes int(np.percentile(target lengths, 95)) as its max target
// length, so the arithmetic follows numpy's _lerp exactly: a + t·(b − a), or b − (1 − t)·(b − a)
// when t ≥ 0.5, which can differ in the last bit and move int() across an integer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/error.h"

namespace t5zero {

// The q-th percentile (0 ≤ q ≤ 100) of `sorted` (ascending, not empty).
inline double numpy_percentile_sorted(const std::vector<int64_t>& sorted, double q) {
  T5_CHECK(!sorted.empty(), "percentile of an empty list");
  T5_CHECK(q >= 0.0 && q <= 100.0, "percentile: q must lie in [0, 100], got ", q);
  const double virtual_index = (q / 100.0) * static_cast<double>(sorted.size() - 1);
  const double lower = std::floor(virtual_index);
  const size_t below = static_cast<size_t>(lower);
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double t = virtual_index - lower;
  const double a = static_cast<double>(sorted[below]);
  const double b = static_cast<double>(sorted[above]);
  const double difference = b - a;
  return t >= 0.5 ? b - difference * (1.0 - t) : a + difference * t;
}

// The same for values in any order.
inline double numpy_percentile(std::vector<int64_t> values, double q) {
  std::sort(values.begin(), values.end());
  return numpy_percentile_sorted(values, q);
}

}  // namespace t5zero
