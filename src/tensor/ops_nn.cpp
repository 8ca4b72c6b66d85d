// The matrix-product, normalisation, softmax, loss and dropout ops of the catalogue (tensor/ops.h),
// routed to the backend of their inputs.
#include "tensor/cpu/cpu_ops.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace t5zero::ops {

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  T5_RETURN_IF_CUDA("matmul", matmul(a, b, transpose_a, transpose_b), &a, &b);
  return cpu::matmul(a, b, transpose_a, transpose_b);
}

Tensor softmax(const Tensor& x) {
  T5_RETURN_IF_CUDA("softmax", softmax(x), &x);
  return cpu::softmax(x);
}

Tensor softmax_backward(const Tensor& grad_y, const Tensor& y) {
  T5_RETURN_IF_CUDA("softmax_backward", softmax_backward(grad_y, y), &grad_y, &y);
  return cpu::softmax_backward(grad_y, y);
}

Tensor log_softmax(const Tensor& x) {
  T5_RETURN_IF_CUDA("log_softmax", log_softmax(x), &x);
  return cpu::log_softmax(x);
}

Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y) {
  T5_RETURN_IF_CUDA("log_softmax_backward", log_softmax_backward(grad_y, y), &grad_y, &y);
  return cpu::log_softmax_backward(grad_y, y);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index) {
  T5_RETURN_IF_CUDA("cross_entropy", cross_entropy(logits, targets, ignore_index), &logits,
                    &targets);
  return cpu::cross_entropy(logits, targets, ignore_index);
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits, const Tensor& targets,
                              int64_t ignore_index) {
  T5_RETURN_IF_CUDA("cross_entropy_backward",
                    cross_entropy_backward(grad_loss, logits, targets, ignore_index), &grad_loss,
                    &logits, &targets);
  return cpu::cross_entropy_backward(grad_loss, logits, targets, ignore_index);
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  T5_RETURN_IF_CUDA("rms_norm", rms_norm(x, weight, eps), &x, &weight);
  return cpu::rms_norm(x, weight, eps);
}

RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                               double eps) {
  T5_RETURN_IF_CUDA("rms_norm_backward", rms_norm_backward(grad_y, x, weight, eps), &grad_y, &x,
                    &weight);
  return cpu::rms_norm_backward(grad_y, x, weight, eps);
}

Tensor dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  T5_RETURN_IF_CUDA("dropout", dropout(x, p, seed, offset), &x);
  return cpu::dropout(x, p, seed, offset);
}

Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset) {
  return cpu::dropout_mask(shape, p, seed, offset);
}

}  // namespace t5zero::ops
