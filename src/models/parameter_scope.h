// ParameterScope: the span of a module's computation during which its parameters are present.
//
// Forward: constructing the scope gathers the module's parameters, destroying it releases them.
// Backward: the module's backward nodes run long after the scope has closed, so the scope also
// marks the module's boundary in the graph with two identity ops:
//
//   x' = scope.enter(x)   for each activation input;   y' = scope.exit(y)   for the output.
//
// Backward visits y' before every node that produced y, and each x' after every node that
// consumed it. So exit's backward gathers the parameters again before the module's backward
// nodes read them, and the last enter's backward releases them once those nodes are done.
// A module's backward nodes that read a parameter must depend on an entered input (T5's do:
// every weight multiplies an activation); nodes that touch only a parameter, such as the
// relative-bias lookup, read no parameter data in backward.
//
// With the one-process ParameterStore all of this is a no-op.
#pragma once

#include <memory>
#include <vector>

#include "autograd/variable.h"
#include "models/parameter_store.h"

namespace t5zero::models {

class ParameterScope {
 public:
  ParameterScope(ParameterStore& store, std::vector<ParamId> ids);
  ~ParameterScope();
  ParameterScope(const ParameterScope&) = delete;
  ParameterScope& operator=(const ParameterScope&) = delete;

  // The parameter's Variable (present while the scope is open).
  const autograd::Variable& operator[](ParamId id) const { return store_.variable(id); }

  // Identity ops marking the module's inputs and output for the backward pass.
  autograd::Variable enter(const autograd::Variable& input) const;
  autograd::Variable exit(const autograd::Variable& output) const;

 private:
  // Shared with the marker nodes, which outlive the scope.
  struct BackwardBoundary {
    ParameterStore* store;
    std::vector<ParamId> ids;
    int inputs_pending = 0;  // enter markers whose backward has not run yet
  };
  ParameterStore& store_;
  std::shared_ptr<BackwardBoundary> boundary_;
};

}  // namespace t5zero::models
