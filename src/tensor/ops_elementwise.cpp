// The elementwise ops of the catalogue (tensor/ops.h), routed to the backend of their inputs.
#include "tensor/cpu/cpu_ops.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace t5zero::ops {

Tensor add(const Tensor& a, const Tensor& b) {
  T5_RETURN_IF_CUDA("add", add(a, b), &a, &b);
  return cpu::add(a, b);
}

Tensor sub(const Tensor& a, const Tensor& b) {
  T5_RETURN_IF_CUDA("sub", sub(a, b), &a, &b);
  return cpu::sub(a, b);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  T5_RETURN_IF_CUDA("mul", mul(a, b), &a, &b);
  return cpu::mul(a, b);
}

Tensor div(const Tensor& a, const Tensor& b) {
  T5_RETURN_IF_CUDA("div", div(a, b), &a, &b);
  return cpu::div(a, b);
}

Tensor pow(const Tensor& a, const Tensor& b) {
  T5_RETURN_IF_CUDA("pow", pow(a, b), &a, &b);
  return cpu::pow(a, b);
}

Tensor add_scalar(const Tensor& a, double s) {
  T5_RETURN_IF_CUDA("add_scalar", add_scalar(a, s), &a);
  return cpu::add_scalar(a, s);
}

Tensor mul_scalar(const Tensor& a, double s) {
  T5_RETURN_IF_CUDA("mul_scalar", mul_scalar(a, s), &a);
  return cpu::mul_scalar(a, s);
}

Tensor pow_scalar(const Tensor& a, double exponent) {
  T5_RETURN_IF_CUDA("pow_scalar", pow_scalar(a, exponent), &a);
  return cpu::pow_scalar(a, exponent);
}

Tensor neg(const Tensor& a) {
  T5_RETURN_IF_CUDA("neg", neg(a), &a);
  return cpu::neg(a);
}

Tensor exp(const Tensor& a) {
  T5_RETURN_IF_CUDA("exp", exp(a), &a);
  return cpu::exp(a);
}

Tensor log(const Tensor& a) {
  T5_RETURN_IF_CUDA("log", log(a), &a);
  return cpu::log(a);
}

Tensor sqrt(const Tensor& a) {
  T5_RETURN_IF_CUDA("sqrt", sqrt(a), &a);
  return cpu::sqrt(a);
}

Tensor rsqrt(const Tensor& a) {
  T5_RETURN_IF_CUDA("rsqrt", rsqrt(a), &a);
  return cpu::rsqrt(a);
}

Tensor tanh(const Tensor& a) {
  T5_RETURN_IF_CUDA("tanh", tanh(a), &a);
  return cpu::tanh(a);
}

Tensor relu(const Tensor& a) {
  T5_RETURN_IF_CUDA("relu", relu(a), &a);
  return cpu::relu(a);
}

Tensor gelu_new(const Tensor& a) {
  T5_RETURN_IF_CUDA("gelu_new", gelu_new(a), &a);
  return cpu::gelu_new(a);
}

Tensor gelu_new_backward(const Tensor& grad, const Tensor& x) {
  T5_RETURN_IF_CUDA("gelu_new_backward", gelu_new_backward(grad, x), &grad, &x);
  return cpu::gelu_new_backward(grad, x);
}

Tensor relu_backward(const Tensor& grad, const Tensor& x) {
  T5_RETURN_IF_CUDA("relu_backward", relu_backward(grad, x), &grad, &x);
  return cpu::relu_backward(grad, x);
}

Tensor eq_scalar(const Tensor& a, double s) {
  T5_RETURN_IF_CUDA("eq_scalar", eq_scalar(a, s), &a);
  return cpu::eq_scalar(a, s);
}

Tensor ne_scalar(const Tensor& a, double s) {
  T5_RETURN_IF_CUDA("ne_scalar", ne_scalar(a, s), &a);
  return cpu::ne_scalar(a, s);
}

Tensor gt_scalar(const Tensor& a, double s) {
  T5_RETURN_IF_CUDA("gt_scalar", gt_scalar(a, s), &a);
  return cpu::gt_scalar(a, s);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  T5_RETURN_IF_CUDA("where", where(cond, a, b), &cond, &a, &b);
  return cpu::where(cond, a, b);
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  T5_RETURN_IF_CUDA("masked_fill", masked_fill(a, mask, value), &a, &mask);
  return cpu::masked_fill(a, mask, value);
}

// A dtype conversion is a copy; Tensor::to owns it on every device.
Tensor cast(const Tensor& a, DType dtype) {
  return a.to(dtype);
}

}  // namespace t5zero::ops
