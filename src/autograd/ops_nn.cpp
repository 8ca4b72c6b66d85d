// Differentiable softmax, log-softmax, cross-entropy, RMSNorm and dropout: forward and backward
// side by side.
//
// Backward closures capture input Variables and read .data() when they run (a ZeRO-3 weight such
// as an RMSNorm scale is gathered again for backward; the graph must not keep the forward-time copy
// alive). Outputs an op computed itself (softmax's y) are captured as Tensors.
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace t5zero::autograd {

Variable softmax(const Variable& x) {
  Tensor y = ops::softmax(x.data());
  return make_result(y, {x}, "softmax", [y](const Tensor& g) -> std::vector<Tensor> {
    return {ops::softmax_backward(g, y)};
  });
}

Variable log_softmax(const Variable& x) {
  Tensor y = ops::log_softmax(x.data());
  return make_result(y, {x}, "log_softmax", [y](const Tensor& g) -> std::vector<Tensor> {
    return {ops::log_softmax_backward(g, y)};
  });
}

// The backward recomputes each row's softmax from the logits rather than saving a [N, V]
// probability tensor: for T5's 32128-word vocabulary that tensor is the largest activation.
Variable cross_entropy(const Variable& logits, const Tensor& targets, int64_t ignore_index) {
  return make_result(
      ops::cross_entropy(logits.data(), targets, ignore_index), {logits}, "cross_entropy",
      [logits, targets, ignore_index](const Tensor& g) -> std::vector<Tensor> {
        return {ops::cross_entropy_backward(g, logits.data(), targets, ignore_index)};
      });
}

Variable rms_norm(const Variable& x, const Variable& weight, double eps) {
  return make_result(ops::rms_norm(x.data(), weight.data(), eps), {x, weight}, "rms_norm",
                     [x, weight, eps](const Tensor& g) -> std::vector<Tensor> {
                       ops::RmsNormGrads grads =
                           ops::rms_norm_backward(g, x.data(), weight.data(), eps);
                       return {x.requires_grad() ? grads.x : Tensor(),
                               weight.requires_grad() ? grads.weight : Tensor()};
                     });
}

// Dropout is linear in x with a mask fixed by (seed, element): its backward is the same dropout
// of the gradient.
Variable dropout(const Variable& x, double p, uint64_t seed, uint64_t offset) {
  return make_result(ops::dropout(x.data(), p, seed, offset), {x}, "dropout",
                     [p, seed, offset](const Tensor& g) -> std::vector<Tensor> {
                       return {ops::dropout(g, p, seed, offset)};
                     });
}

}  // namespace t5zero::autograd
