// The elementwise ops of the catalogue (tensor/ops.h), routed to the backend of their inputs.
#include "tensor/cpu/cpu_ops.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace t5zero::ops {

Tensor add(const Tensor& a, const Tensor& b) {
  require_cpu("add", {&a, &b});
  return cpu::add(a, b);
}

Tensor sub(const Tensor& a, const Tensor& b) {
  require_cpu("sub", {&a, &b});
  return cpu::sub(a, b);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  require_cpu("mul", {&a, &b});
  return cpu::mul(a, b);
}

Tensor div(const Tensor& a, const Tensor& b) {
  require_cpu("div", {&a, &b});
  return cpu::div(a, b);
}

Tensor pow(const Tensor& a, const Tensor& b) {
  require_cpu("pow", {&a, &b});
  return cpu::pow(a, b);
}

Tensor add_scalar(const Tensor& a, double s) {
  require_cpu("add_scalar", {&a});
  return cpu::add_scalar(a, s);
}

Tensor mul_scalar(const Tensor& a, double s) {
  require_cpu("mul_scalar", {&a});
  return cpu::mul_scalar(a, s);
}

Tensor pow_scalar(const Tensor& a, double exponent) {
  require_cpu("pow_scalar", {&a});
  return cpu::pow_scalar(a, exponent);
}

Tensor neg(const Tensor& a) {
  require_cpu("neg", {&a});
  return cpu::neg(a);
}

Tensor exp(const Tensor& a) {
  require_cpu("exp", {&a});
  return cpu::exp(a);
}

Tensor log(const Tensor& a) {
  require_cpu("log", {&a});
  return cpu::log(a);
}

Tensor sqrt(const Tensor& a) {
  require_cpu("sqrt", {&a});
  return cpu::sqrt(a);
}

Tensor rsqrt(const Tensor& a) {
  require_cpu("rsqrt", {&a});
  return cpu::rsqrt(a);
}

Tensor tanh(const Tensor& a) {
  require_cpu("tanh", {&a});
  return cpu::tanh(a);
}

Tensor relu(const Tensor& a) {
  require_cpu("relu", {&a});
  return cpu::relu(a);
}

Tensor gelu_new(const Tensor& a) {
  require_cpu("gelu_new", {&a});
  return cpu::gelu_new(a);
}

Tensor gelu_new_backward(const Tensor& grad, const Tensor& x) {
  require_cpu("gelu_new_backward", {&grad, &x});
  return cpu::gelu_new_backward(grad, x);
}

Tensor relu_backward(const Tensor& grad, const Tensor& x) {
  require_cpu("relu_backward", {&grad, &x});
  return cpu::relu_backward(grad, x);
}

Tensor eq_scalar(const Tensor& a, double s) {
  require_cpu("eq_scalar", {&a});
  return cpu::eq_scalar(a, s);
}

Tensor ne_scalar(const Tensor& a, double s) {
  require_cpu("ne_scalar", {&a});
  return cpu::ne_scalar(a, s);
}

Tensor gt_scalar(const Tensor& a, double s) {
  require_cpu("gt_scalar", {&a});
  return cpu::gt_scalar(a, s);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  require_cpu("where", {&cond, &a, &b});
  return cpu::where(cond, a, b);
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  require_cpu("masked_fill", {&a, &mask});
  return cpu::masked_fill(a, mask, value);
}

// A dtype conversion is a copy; Tensor::to owns it on every device.
Tensor cast(const Tensor& a, DType dtype) {
  return a.to(dtype);
}

}  // namespace t5zero::ops
