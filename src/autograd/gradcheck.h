// Finite-difference gradient check: compares autograd's gradients with central differences.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace t5zero::autograd {

struct GradcheckResult {
  bool ok = false;
  double worst_error = 0;  // max |analytic − numeric| / max(1, |numeric|) over all elements
  std::string where;       // "input 1, element 7: analytic 0.25, numeric 0.2499"
};

// `fn` maps the inputs (f64 leaves requiring grad) to any-shaped output. The scalar checked is
// sum(output · w) for a fixed random w, so every output element's gradient is exercised.
GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps = 1e-6,
                          double tolerance = 1e-6);

}  // namespace t5zero::autograd
