// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_. The norm is split
// into partial sums of squares so that ZeRO ranks can each sum their own shard, all-reduce the
// partials, and take the square root of the total.
#pragma once

#include <span>

namespace t5zero {

// Sum of squares of one gradient range. Fixed blocks are summed in fp32 lanes and the block
// sums are added in double in block order, so the result is the same for any thread count.
double grad_sum_of_squares(std::span<const float> grad);

// The sum over several ranges, in list order.
double grad_sum_of_squares(std::span<const std::span<const float>> grads);

struct GradClip {
  double total_norm = 0.0;   // sqrt of the summed squares
  bool finite = true;        // false when the norm is inf or NaN: the caller skips the step
  double coefficient = 1.0;  // what the gradients were (or are to be) multiplied by
  bool clipped = false;      // coefficient < 1 was applied
};

// torch semantics: coefficient = max_norm / (norm + 1e-6), applied when it is < 1. A max_norm
// <= 0 disables clipping (DeepSpeed's gradient_clipping 0). A non-finite norm is reported and
// nothing is scaled, so the caller can stop or skip with the gradients intact.
GradClip clip_decision(double total_sum_of_squares, double max_norm);

// Multiplies every range by `coefficient` (float, as torch's in-place mul).
void scale_grads(std::span<const std::span<float>> grads, float coefficient);

// One process: norm of all ranges, then scale when clipping applies.
GradClip clip_grad_norm(std::span<const std::span<float>> grads, double max_norm);

}  // namespace t5zero
