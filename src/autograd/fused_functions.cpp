// The fused differentiable ops: the CPU composition that defines each one, and under T5ZERO_CUDA
// the one-node GPU version on the kernels of tensor/cuda/fused.h, forward and backward side by
// side.
#include "autograd/fused_functions.h"

#include "autograd/functions.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

#ifdef T5ZERO_CUDA
#include "tensor/cuda/fused.h"
#endif

namespace t5zero::autograd::fused {

namespace {

#ifdef T5ZERO_CUDA
bool on_gpu(const char* op, std::initializer_list<const Tensor*> inputs) {
  return common_device(op, inputs).is_cuda();
}

Variable rms_norm_gpu(const Variable& x, const Variable& weight, double eps) {
  cuda::RmsNormForward forward = cuda::rms_norm_forward(x.data(), weight.data(), eps);
  return make_result(
      forward.y, {x, weight}, "rms_norm",
      [x, weight, inv_rms = forward.inv_rms](const Tensor& g) -> std::vector<Tensor> {
        ops::RmsNormGrads grads =
            cuda::rms_norm_backward_fused(g, x.data(), weight.data(), inv_rms);
        return {x.requires_grad() ? grads.x : Tensor(),
                weight.requires_grad() ? grads.weight : Tensor()};
      });
}

Variable gated_gelu_gpu(const Variable& h0, const Variable& h1) {
  return make_result(
      cuda::gated_gelu_forward(h0.data(), h1.data()), {h0, h1}, "gated_gelu",
      [h0, h1](const Tensor& g) -> std::vector<Tensor> {
        cuda::GatedGeluGrads grads = cuda::gated_gelu_backward(g, h0.data(), h1.data());
        return {h0.requires_grad() ? grads.h0 : Tensor(), h1.requires_grad() ? grads.h1 : Tensor()};
      });
}

// The backward keeps the probabilities (before dropout), not the inputs: it needs neither.
Variable attention_probs_gpu(const Variable& scores, const Variable& position_bias, double p,
                             uint64_t seed, uint64_t offset) {
  cuda::AttentionProbs forward = cuda::attention_softmax_forward(
      scores.data(), position_bias.data(), Tensor(), p, seed, offset);
  return make_result(
      forward.dropped, {scores, position_bias}, "attention_probs",
      [probs = forward.probs, p, seed, offset, scores_grad = scores.requires_grad(),
       bias_grad = position_bias.requires_grad(),
       bias_shape = position_bias.shape()](const Tensor& g) -> std::vector<Tensor> {
        // As add's backward: the scores take d as is, the bias d summed over its broadcast dims.
        const Tensor d = cuda::attention_softmax_backward(g, probs, p, seed, offset);
        return {scores_grad ? d : Tensor(), bias_grad ? ops::sum_to(d, bias_shape) : Tensor()};
      });
}

Variable relative_position_bias_gpu(const Variable& table, const Tensor& buckets) {
  const int64_t heads = table.shape()[1], queries = buckets.size(0), keys = buckets.size(1);
  const Tensor values = ops::embedding(table.data(), buckets.to(table.data().device()));
  const Tensor bias = values.permute({2, 0, 1}).contiguous().view({1, heads, queries, keys});
  // The host copy of the buckets: the bucket gradient groups positions on the host.
  return make_result(bias, {table}, "relative_position_bias",
                     [host_buckets = buckets.to(Device::cpu()),
                      num_buckets = table.shape()[0]](const Tensor& g) -> std::vector<Tensor> {
                       return {cuda::relative_position_bias_grad(g, host_buckets, num_buckets)};
                     });
}

Variable cross_entropy_gpu(const Variable& logits, const Tensor& targets, int64_t ignore_index) {
  cuda::CrossEntropyForward forward =
      cuda::cross_entropy_forward(logits.data(), targets, ignore_index);
  Tensor loss = forward.loss;
  forward.loss = Tensor();  // the backward keeps only the row statistics
  return make_result(
      loss, {logits}, "cross_entropy",
      [logits, targets, ignore_index, forward](const Tensor& g) -> std::vector<Tensor> {
        // backward() seeds a scalar loss with a host tensor: bring it to the logits' GPU.
        return {cuda::cross_entropy_backward_fused(g.to(logits.data().device()), logits.data(),
                                                   targets, forward, ignore_index)};
      });
}
#endif

}  // namespace

Variable rms_norm(const Variable& x, const Variable& weight, double eps) {
#ifdef T5ZERO_CUDA
  if (on_gpu("rms_norm", {&x.data(), &weight.data()})) return rms_norm_gpu(x, weight, eps);
#endif
  return autograd::rms_norm(x, weight, eps);
}

Variable gated_gelu(const Variable& h0, const Variable& h1) {
#ifdef T5ZERO_CUDA
  if (on_gpu("gated_gelu", {&h0.data(), &h1.data()})) return gated_gelu_gpu(h0, h1);
#endif
  return mul(gelu_new(h0), h1);
}

Variable attention_probs(const Variable& scores, const Variable& position_bias, double p,
                         uint64_t seed, uint64_t offset) {
#ifdef T5ZERO_CUDA
  if (on_gpu("attention_probs", {&scores.data(), &position_bias.data()})) {
    return attention_probs_gpu(scores, position_bias, p, seed, offset);
  }
#endif
  const Variable probs = softmax(add(scores, position_bias));
  return p > 0 ? dropout(probs, p, seed, offset) : probs;
}

Variable relative_position_bias(const Variable& table, const Tensor& buckets) {
  T5_CHECK(table.shape().size() == 2 && buckets.dim() == 2,
           "relative_position_bias: expected a table [num_buckets, heads] and buckets "
           "[queries, keys], got ",
           shape_str(table.shape()), " and ", shape_str(buckets.shape()));
#ifdef T5ZERO_CUDA
  if (table.data().device().is_cuda()) return relative_position_bias_gpu(table, buckets);
#endif
  const int64_t heads = table.shape()[1], queries = buckets.size(0), keys = buckets.size(1);
  const Variable values = embedding(table, buckets.to(table.data().device()));  // [Tq, Tk, H]
  return reshape(permute(values, {2, 0, 1}), {1, heads, queries, keys});
}

Variable cross_entropy(const Variable& logits, const Tensor& targets, int64_t ignore_index) {
#ifdef T5ZERO_CUDA
  if (on_gpu("cross_entropy", {&logits.data(), &targets})) {
    return cross_entropy_gpu(logits, targets, ignore_index);
  }
#endif
  return autograd::cross_entropy(logits, targets, ignore_index);
}

}  // namespace t5zero::autograd::fused
