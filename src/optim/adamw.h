// AdamW over flat fp32 spans: the fp32 master weights, their gradients and the two moments. The
// same call updates a whole parameter or one rank's ZeRO shard, since both are flat fp32 ranges.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tensor/bf16.h"

namespace t5zero {

struct AdamWHyperparams {
  double lr = 1e-3;  // torch.optim.AdamW's defaults; the trainer passes the resolved config
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled, as torch.optim.AdamW / DeepSpeed adam_w_mode
};

// Throws unless 0 <= lr, 0 <= beta1, beta2 < 1, 0 <= eps, 0 <= weight_decay (torch's checks).
void check_adamw_hyperparams(const AdamWHyperparams& h);

// One flat range of one parameter (or shard). `params_bf16`, when set, receives the updated
// weights rounded to bf16 in the same pass: the 16-bit copy the forward pass reads.
struct AdamWSpan {
  float* params = nullptr;
  const float* grads = nullptr;
  float* exp_avg = nullptr;
  float* exp_avg_sq = nullptr;
  int64_t numel = 0;
  bf16* params_bf16 = nullptr;
  int cuda_device = -1;  // >= 0: the pointers are memory of that GPU and the GPU updates them
};

// The per-step scalars, computed once in double as torch's Python code does, then used as
// float in the element loop as torch's CPU kernels do.
struct AdamWStepScalars {
  float decay_factor;     // 1 - lr·wd
  float one_minus_beta1;  // lerp weight of exp_avg towards the gradient
  float beta2;
  float one_minus_beta2;
  float bias_correction2_sqrt;  // sqrt(1 - beta2^step)
  float eps;
  float neg_step_size;  // -lr / (1 - beta1^step)
};

// `step` is the 1-based count of updates including this one.
AdamWStepScalars adamw_step_scalars(const AdamWHyperparams& h, int64_t step);

// Updates one span in place, element for element as torch.optim.AdamW (single-tensor path):
//   p *= 1 - lr·wd;  m = lerp(m, g, 1-β1);  v = β2·v + (1-β2)·g²;
//   p += -lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)
// Vectorized and split across OpenMP threads; the result does not depend on the thread count.
void adamw_update(const AdamWSpan& span, const AdamWStepScalars& s);

// Parameter groups with their own hyperparameters and step count (torch keeps one per tensor,
// DeepSpeed one per group; a ZeRO sub-group is a group here).
class AdamW {
 public:
  // Returns the new group's index.
  size_t add_param_group(const AdamWHyperparams& h);

  size_t num_groups() const { return groups_.size(); }
  const AdamWHyperparams& hyperparams(size_t group) const;
  // The schedule sets the lr of every group before each step, as DeepSpeed's schedulers do.
  void set_lr(double lr);
  int64_t step_count(size_t group) const;
  // For resume: the step counts as a checkpoint saved them.
  void set_step_count(size_t group, int64_t step);

  // Counts one step of `group` and updates each of its spans.
  void step(size_t group, std::span<const AdamWSpan> spans);

 private:
  struct Group {
    AdamWHyperparams hyper;
    int64_t step = 0;
  };
  Group& group_at(size_t group);
  const Group& group_at(size_t group) const;

  std::vector<Group> groups_;
};

}  // namespace t5zero
