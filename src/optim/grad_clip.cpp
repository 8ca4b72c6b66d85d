#include "optim/grad_clip.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/error.h"

namespace t5zero {

namespace {

// Elements per fp32 partial sum: short enough that fp32 accumulation keeps ~7 digits, long
// enough that the double pass over block sums costs nothing.
constexpr int64_t kBlock = 4096;
// Below this many blocks the sum runs on one thread.
constexpr int64_t kParallelBlocks = 8;

float block_sum_of_squares(const float* x, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

}  // namespace

double grad_sum_of_squares(std::span<const float> grad) {
  const int64_t n = static_cast<int64_t>(grad.size());
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<float> block_sums(static_cast<size_t>(blocks));
  const float* data = grad.data();
#pragma omp parallel for schedule(static) if (blocks >= kParallelBlocks)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * kBlock;
    const int64_t len = std::min(kBlock, n - begin);
    block_sums[static_cast<size_t>(b)] = block_sum_of_squares(data + begin, len);
  }
  double total = 0.0;
  for (float s : block_sums) total += static_cast<double>(s);
  return total;
}

double grad_sum_of_squares(std::span<const std::span<const float>> grads) {
  double total = 0.0;
  for (std::span<const float> g : grads) total += grad_sum_of_squares(g);
  return total;
}

GradClip clip_decision(double total_sum_of_squares, double max_norm) {
  GradClip clip;
  clip.total_norm = std::sqrt(total_sum_of_squares);
  clip.finite = std::isfinite(clip.total_norm);
  if (!clip.finite || max_norm <= 0.0) return clip;
  // As torch clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped to <= 1.
  const double coefficient = max_norm / (clip.total_norm + 1e-6);
  if (coefficient < 1.0) {
    clip.coefficient = coefficient;
    clip.clipped = true;
  }
  return clip;
}

void scale_grads(std::span<const std::span<float>> grads, float coefficient) {
  for (std::span<float> g : grads) {
    float* data = g.data();
    const int64_t n = static_cast<int64_t>(g.size());
#pragma omp parallel for simd schedule(simd : static) if (n >= kParallelBlocks * kBlock)
    for (int64_t i = 0; i < n; ++i) data[i] *= coefficient;
  }
}

GradClip clip_grad_norm(std::span<const std::span<float>> grads, double max_norm) {
  double total = 0.0;
  for (std::span<float> g : grads) total += grad_sum_of_squares(std::span<const float>(g));
  const GradClip clip = clip_decision(total, max_norm);
  if (clip.clipped) scale_grads(grads, static_cast<float>(clip.coefficient));
  return clip;
}

}  // namespace t5zero
