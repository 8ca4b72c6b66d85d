// Dropout keyed by where it happens, not by how often it was called.
//
// Each place the model applies dropout is a DropoutSite named after its module
// ("decoder.block.1.layer.0.SelfAttention.dropout"). Its Philox seed is a hash of (run seed,
// step, site name) and the element offset starts at the batch's first global sample, so:
// recomputing a checkpointed block draws the same mask; each step draws a new one; and a row
// drops the same elements whichever rank or micro-batch it lands in.
#pragma once

#include <cstdint>
#include <string>

#include "autograd/variable.h"

namespace t5zero::models {

struct DropoutContext {
  bool training = false;      // dropout only while training, as torch's module.train()
  double p = 0;               // config.dropout_rate
  uint64_t seed = 0;          // the run's seed
  uint64_t step = 0;          // the optimizer step
  uint64_t first_sample = 0;  // global index of the batch's row 0
};

// What one application of a site draws: p (0 when dropout is off), the Philox seed, and the
// element offset of the batch's row 0.
struct DropoutParams {
  double p = 0;
  uint64_t seed = 0;
  uint64_t offset = 0;
};

class DropoutSite {
 public:
  DropoutSite() = default;
  explicit DropoutSite(const std::string& name);

  // Dropout of x, whose dim 0 is the batch; identity unless training with p > 0.
  autograd::Variable apply(const autograd::Variable& x, const DropoutContext& context) const;
  // The Philox seed this site uses at a given (run seed, step).
  uint64_t seed(uint64_t run_seed, uint64_t step) const;
  // The dropout `apply` draws for a tensor of this shape (dim 0 the batch), for fused kernels
  // that apply it themselves.
  DropoutParams params(const Shape& shape, const DropoutContext& context) const;

 private:
  uint64_t id_ = 0;  // stable_hash of the name
};

}  // namespace t5zero::models
