// Activation checkpointing: run a function without keeping its activations, and run it again
// during backward to get its gradients. Results and gradients equal the plain run's, because
// every op is deterministic and dropout masks are keyed by (seed, element), not by call order.
#pragma once

#include <functional>
#include <vector>

#include "autograd/variable.h"

namespace t5zero::autograd {

using CheckpointFn = std::function<Variable(const std::vector<Variable>& inputs)>;

// Parameters the function uses by capture (not through `inputs`) get their gradients from the
// recomputation's own backward.
Variable checkpoint(const CheckpointFn& fn, const std::vector<Variable>& inputs);

}  // namespace t5zero::autograd
