#include "models/parameter_scope.h"

namespace t5zero::models {

using autograd::Variable;

ParameterScope::ParameterScope(ParameterStore& store, std::vector<ParamId> ids)
    : store_(store), boundary_(std::make_shared<BackwardBoundary>()) {
  boundary_->store = &store;
  boundary_->ids = std::move(ids);
  store_.gather(boundary_->ids);
}

ParameterScope::~ParameterScope() {
  store_.release(boundary_->ids);
}

Variable ParameterScope::enter(const Variable& input) const {
  // The parameters are inputs of the marker too, so it is recorded (and releases them) even when
  // the activation needs no gradient; they get none from it.
  std::vector<Variable> inputs{input};
  for (ParamId id : boundary_->ids) inputs.push_back(store_.variable(id));
  const size_t num_inputs = inputs.size();
  Variable marked =
      autograd::make_result(input.data(), std::move(inputs), "scope_enter",
                            [boundary = boundary_, num_inputs](const Tensor& grad) {
                              if (--boundary->inputs_pending == 0) {
                                boundary->store->module_gradients_ready(boundary->ids);
                                boundary->store->release(boundary->ids);
                              }
                              std::vector<Tensor> grads(num_inputs);
                              grads[0] = grad;
                              return grads;
                            });
  if (marked.grad_fn()) ++boundary_->inputs_pending;
  return marked;
}

Variable ParameterScope::exit(const Variable& output) const {
  return autograd::make_result(output.data(), {output}, "scope_exit",
                               [boundary = boundary_](const Tensor& grad) {
                                 boundary->store->gather(boundary->ids);
                                 return std::vector<Tensor>{grad};
                               });
}

}  // namespace t5zero::models
