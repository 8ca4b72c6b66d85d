// Differentiable elementwise ops: forward and backward side by side.
//
// Backward closures capture input Variables and read .data() when they run, never an input's
// Tensor from forward time: a ZeRO-3 weight is released after forward and gathered again for
// backward, and the graph must not keep the released copy alive. Outputs an op computed itself
// (exp's result, say) are captured as Tensors. Gradients of broadcast inputs are summed back to
// each input's shape.
#include "autograd/functions.h"
#include "tensor/ops.h"

namespace t5zero::autograd {

namespace {
// The gradient for `input`, or undefined when it takes none (saves the work).
Tensor grad_for(const Variable& input, const Tensor& grad) {
  return input.requires_grad() ? ops::sum_to(grad, input.shape()) : Tensor();
}

Tensor scalar_like(const Tensor& t, double value) {
  return Tensor::full({}, value, t.dtype());
}
}  // namespace

Variable add(const Variable& a, const Variable& b) {
  return make_result(ops::add(a.data(), b.data()), {a, b}, "add",
                     [a, b](const Tensor& g) -> std::vector<Tensor> {
                       return {grad_for(a, g), grad_for(b, g)};
                     });
}

Variable sub(const Variable& a, const Variable& b) {
  return make_result(
      ops::sub(a.data(), b.data()), {a, b}, "sub", [a, b](const Tensor& g) -> std::vector<Tensor> {
        return {grad_for(a, g), b.requires_grad() ? grad_for(b, ops::neg(g)) : Tensor()};
      });
}

// d(a·b) = b·da + a·db
Variable mul(const Variable& a, const Variable& b) {
  return make_result(
      ops::mul(a.data(), b.data()), {a, b}, "mul", [a, b](const Tensor& g) -> std::vector<Tensor> {
        Tensor ga = a.requires_grad() ? grad_for(a, ops::mul(g, b.data())) : Tensor();
        Tensor gb = b.requires_grad() ? grad_for(b, ops::mul(g, a.data())) : Tensor();
        return {ga, gb};
      });
}

// d(a/b) = da/b − a·db/b²
Variable div(const Variable& a, const Variable& b) {
  return make_result(
      ops::div(a.data(), b.data()), {a, b}, "div", [a, b](const Tensor& g) -> std::vector<Tensor> {
        Tensor ga = a.requires_grad() ? grad_for(a, ops::div(g, b.data())) : Tensor();
        Tensor gb;
        if (b.requires_grad()) {
          Tensor ratio = ops::div(ops::div(a.data(), b.data()), b.data());
          gb = grad_for(b, ops::neg(ops::mul(g, ratio)));
        }
        return {ga, gb};
      });
}

// d(aᵇ) = b·aᵇ⁻¹·da + aᵇ·ln(a)·db
Variable pow(const Variable& a, const Variable& b) {
  Tensor out = ops::pow(a.data(), b.data());
  return make_result(out, {a, b}, "pow", [a, b, out](const Tensor& g) -> std::vector<Tensor> {
    Tensor ga, gb;
    if (a.requires_grad()) {
      Tensor power = ops::pow(a.data(), ops::add_scalar(b.data(), -1));
      ga = grad_for(a, ops::mul(g, ops::mul(b.data(), power)));
    }
    if (b.requires_grad()) gb = grad_for(b, ops::mul(g, ops::mul(out, ops::log(a.data()))));
    return {ga, gb};
  });
}

Variable add_scalar(const Variable& a, double s) {
  return make_result(ops::add_scalar(a.data(), s), {a}, "add_scalar",
                     [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
}

Variable mul_scalar(const Variable& a, double s) {
  return make_result(
      ops::mul_scalar(a.data(), s), {a}, "mul_scalar",
      [s](const Tensor& g) -> std::vector<Tensor> { return {ops::mul_scalar(g, s)}; });
}

// d(aᵉ) = e·aᵉ⁻¹·da; zero for e = 0 (where aᵉ⁻¹ could be inf at a = 0), as torch.
Variable pow_scalar(const Variable& a, double exponent) {
  return make_result(ops::pow_scalar(a.data(), exponent), {a}, "pow_scalar",
                     [a, exponent](const Tensor& g) -> std::vector<Tensor> {
                       if (exponent == 0) return {Tensor::zeros(g.shape(), g.dtype())};
                       Tensor power = ops::pow_scalar(a.data(), exponent - 1);
                       return {ops::mul(g, ops::mul_scalar(power, exponent))};
                     });
}

Variable neg(const Variable& a) {
  return make_result(ops::neg(a.data()), {a}, "neg",
                     [](const Tensor& g) -> std::vector<Tensor> { return {ops::neg(g)}; });
}

// d(eᵃ) = eᵃ·da
Variable exp(const Variable& a) {
  Tensor out = ops::exp(a.data());
  return make_result(out, {a}, "exp",
                     [out](const Tensor& g) -> std::vector<Tensor> { return {ops::mul(g, out)}; });
}

// d(ln a) = da/a
Variable log(const Variable& a) {
  return make_result(ops::log(a.data()), {a}, "log", [a](const Tensor& g) -> std::vector<Tensor> {
    return {ops::div(g, a.data())};
  });
}

// d(√a) = da / (2√a)
Variable sqrt(const Variable& a) {
  Tensor out = ops::sqrt(a.data());
  return make_result(out, {a}, "sqrt", [out](const Tensor& g) -> std::vector<Tensor> {
    return {ops::div(ops::mul_scalar(g, 0.5), out)};
  });
}

// d(a^-½) = −½·a^-3/2·da = −½·out³·da
Variable rsqrt(const Variable& a) {
  Tensor out = ops::rsqrt(a.data());
  return make_result(out, {a}, "rsqrt", [out](const Tensor& g) -> std::vector<Tensor> {
    return {ops::mul(g, ops::mul_scalar(ops::pow_scalar(out, 3), -0.5))};
  });
}

// d(tanh a) = (1 − out²)·da
Variable tanh(const Variable& a) {
  Tensor out = ops::tanh(a.data());
  return make_result(out, {a}, "tanh", [out](const Tensor& g) -> std::vector<Tensor> {
    return {ops::mul(g, ops::add_scalar(ops::neg(ops::mul(out, out)), 1))};
  });
}

// The output is positive exactly where the input is, so backward needs only the output.
Variable relu(const Variable& a) {
  Tensor out = ops::relu(a.data());
  return make_result(out, {a}, "relu", [out](const Tensor& g) -> std::vector<Tensor> {
    return {ops::relu_backward(g, out)};
  });
}

Variable gelu_new(const Variable& a) {
  return make_result(ops::gelu_new(a.data()), {a}, "gelu_new",
                     [a](const Tensor& g) -> std::vector<Tensor> {
                       return {ops::gelu_new_backward(g, a.data())};
                     });
}

// The gradient goes to a where cond holds and to b elsewhere.
Variable where(const Tensor& cond, const Variable& a, const Variable& b) {
  return make_result(
      ops::where(cond, a.data(), b.data()), {a, b}, "where",
      [cond, a, b](const Tensor& g) -> std::vector<Tensor> {
        Tensor zero = scalar_like(g, 0);
        Tensor ga = a.requires_grad() ? grad_for(a, ops::where(cond, g, zero)) : Tensor();
        Tensor gb = b.requires_grad() ? grad_for(b, ops::where(cond, zero, g)) : Tensor();
        return {ga, gb};
      });
}

// Filled elements no longer depend on a.
Variable masked_fill(const Variable& a, const Tensor& mask, double value) {
  return make_result(
      ops::masked_fill(a.data(), mask, value), {a}, "masked_fill",
      [mask](const Tensor& g) -> std::vector<Tensor> { return {ops::masked_fill(g, mask, 0)}; });
}

// The gradient returns in a's dtype (a bf16 activation cast to f32 gets a bf16 gradient).
// Casting to an integer dtype ends the graph: integers carry no gradient.
Variable cast(const Variable& a, DType dtype) {
  if (!is_floating(dtype)) return Variable(ops::cast(a.data(), dtype));
  return make_result(
      ops::cast(a.data(), dtype), {a}, "cast",
      [from = a.dtype()](const Tensor& g) -> std::vector<Tensor> { return {ops::cast(g, from)}; });
}

}  // namespace t5zero::autograd
