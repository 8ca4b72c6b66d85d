#include "autograd/checkpoint.h"

namespace t5zero::autograd {

Variable checkpoint(const CheckpointFn& fn, const std::vector<Variable>& inputs) {
  if (!grad_enabled()) return fn(inputs);
  Tensor output;
  {
    NoGradGuard no_grad;  // keep nothing: only the output survives
    output = fn(inputs).data();
  }
  std::vector<Tensor> input_data;
  std::vector<bool> input_requires_grad;
  for (const Variable& v : inputs) {
    input_data.push_back(v.data());
    input_requires_grad.push_back(v.requires_grad());
  }
  // The recomputation is a graph of its own whose leaves stand for the inputs.
  return make_result(output, inputs, "checkpoint",
                     [fn, input_data, input_requires_grad](const Tensor& grad_out) {
                       std::vector<Variable> leaves;
                       for (size_t i = 0; i < input_data.size(); ++i)
                         leaves.emplace_back(input_data[i], input_requires_grad[i]);
                       GradModeGuard record(true);
                       Variable recomputed = fn(leaves);
                       if (recomputed.requires_grad()) recomputed.backward(grad_out);
                       std::vector<Tensor> grads;
                       for (const Variable& leaf : leaves) grads.push_back(leaf.grad());
                       return grads;
                     });
}

}  // namespace t5zero::autograd
