// Every differentiable elementwise op against central differences in f64, on broadcast and
// non-contiguous inputs (views are made inside the checked function, so their backward runs too).
#include <doctest/doctest.h>

#include <random>
#include <sstream>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/ops.h"

using namespace t5zero;
using namespace t5zero::autograd;

namespace {

using Fn = std::function<Variable(const std::vector<Variable>&)>;

Tensor uniform(const Shape& shape, double lo, double hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return Tensor::from_vector(v, shape);
}

// Values in ±[0.2, 2]: away from relu's kink at 0.
Tensor away_from_zero(const Shape& shape, uint32_t seed) {
  Tensor magnitude = uniform(shape, 0.2, 2, seed);
  Tensor sign = ops::gt_scalar(uniform(shape, -1, 1, seed + 1), 0);
  return ops::where(sign, magnitude, ops::neg(magnitude));
}

void check_grad(const char* what, const Fn& fn, const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(fn, inputs);
  std::ostringstream report;
  report << what << ": worst error " << r.worst_error << " (" << r.where << ")";
  MESSAGE(report.str());
  CHECK(r.ok);
}

using Binary = Variable (*)(const Variable&, const Variable&);

// A binary op on [3,1,4] × [2,1] (broadcast), and on a transposed [4,3] × a narrowed [3,6].
void check_binary(const char* name, Binary op, double lo, double hi) {
  INFO(std::string(name));
  check_grad("broadcast", [op](const std::vector<Variable>& v) { return op(v[0], v[1]); },
             {uniform({3, 1, 4}, lo, hi, 1), uniform({2, 1}, 0.5, 1.5, 2)});
  check_grad("broadcast, swapped", [op](const std::vector<Variable>& v) { return op(v[0], v[1]); },
             {uniform({4}, lo, hi, 3), uniform({2, 3, 1}, 0.5, 1.5, 4)});
  check_grad("non-contiguous",
             [op](const std::vector<Variable>& v) {
               return op(transpose(v[0], 0, 1), narrow(v[1], 1, 2, 4));
             },
             {uniform({4, 3}, lo, hi, 5), uniform({3, 6}, 0.5, 1.5, 6)});
  check_grad("same input twice", [op](const std::vector<Variable>& v) { return op(v[0], v[0]); },
             {uniform({2, 3}, 0.5, 1.5, 7)});
}

// A unary op on a transposed view.
void check_unary(const char* name, const Fn& op, const Tensor& input) {
  INFO(std::string(name));
  check_grad("transposed",
             [op](const std::vector<Variable>& v) { return op({transpose(v[0], 0, 1)}); }, {input});
  check_grad("contiguous", op, {input});
}

}  // namespace

TEST_CASE("gradcheck detects a wrong backward") {
  // An identity whose backward claims a gradient of 2: the check must fail with error ~1.
  Fn wrong = [](const std::vector<Variable>& v) {
    return make_result(
        v[0].data().clone(), {v[0]}, "wrong",
        [](const Tensor& g) -> std::vector<Tensor> { return {ops::mul_scalar(g, 2)}; });
  };
  GradcheckResult r = gradcheck(wrong, {uniform({3}, -1, 1, 1)});
  CHECK_FALSE(r.ok);
  CHECK(r.worst_error > 0.1);
  CHECK(r.where.find("input 0") != std::string::npos);
}

TEST_CASE("gradcheck: add, sub, mul, div, pow") {
  check_binary("add", add, -2, 2);
  check_binary("sub", sub, -2, 2);
  check_binary("mul", mul, -2, 2);
  check_binary("div", div, -2, 2);
  check_binary("pow", pow, 0.5, 2);  // a > 0 for b's gradient
}

TEST_CASE("gradcheck: scalar ops") {
  Tensor x = uniform({3, 4}, -2, 2, 11);
  Tensor pos = uniform({3, 4}, 0.3, 2, 12);
  check_unary(
      "add_scalar", [](const std::vector<Variable>& v) { return add_scalar(v[0], 1.5); }, x);
  check_unary(
      "mul_scalar", [](const std::vector<Variable>& v) { return mul_scalar(v[0], -0.7); }, x);
  check_unary(
      "pow_scalar 3", [](const std::vector<Variable>& v) { return pow_scalar(v[0], 3); }, x);
  check_unary(
      "pow_scalar 2", [](const std::vector<Variable>& v) { return pow_scalar(v[0], 2); }, x);
  check_unary(
      "pow_scalar -0.5", [](const std::vector<Variable>& v) { return pow_scalar(v[0], -0.5); },
      pos);
  check_unary(
      "pow_scalar 0", [](const std::vector<Variable>& v) { return pow_scalar(v[0], 0); }, x);
  check_unary(
      "neg", [](const std::vector<Variable>& v) { return neg(v[0]); }, x);
}

TEST_CASE("gradcheck: exp, log, sqrt, rsqrt, tanh, relu, gelu_new") {
  Tensor x = uniform({3, 4}, -3, 3, 21);
  Tensor pos = uniform({3, 4}, 0.3, 3, 22);
  check_unary(
      "exp", [](const std::vector<Variable>& v) { return exp(v[0]); }, x);
  check_unary(
      "log", [](const std::vector<Variable>& v) { return log(v[0]); }, pos);
  check_unary(
      "sqrt", [](const std::vector<Variable>& v) { return sqrt(v[0]); }, pos);
  check_unary(
      "rsqrt", [](const std::vector<Variable>& v) { return rsqrt(v[0]); }, pos);
  check_unary(
      "tanh", [](const std::vector<Variable>& v) { return tanh(v[0]); }, x);
  check_unary(
      "relu", [](const std::vector<Variable>& v) { return relu(v[0]); },
      away_from_zero({3, 4}, 23));
  check_unary(
      "gelu_new", [](const std::vector<Variable>& v) { return gelu_new(v[0]); }, x);
}

TEST_CASE("gradcheck: where and masked_fill with broadcast masks") {
  Tensor cond = ops::gt_scalar(uniform({3, 1}, -1, 1, 31), 0);
  REQUIRE(ops::sum(cond).item() > 0);  // both branches are exercised
  REQUIRE(ops::sum(cond).item() < 3);
  check_grad(
      "where",
      [cond](const std::vector<Variable>& v) { return where(cond, v[0], transpose(v[1], 0, 1)); },
      {uniform({1, 4}, -2, 2, 32), uniform({4, 3}, -2, 2, 33)});
  Tensor mask = ops::gt_scalar(uniform({1, 4}, -1, 1, 34), 0);
  check_grad("masked_fill",
             [mask](const std::vector<Variable>& v) {
               return mul(masked_fill(transpose(v[0], 0, 1), mask, -5.0), v[1]);
             },
             {uniform({4, 3}, -2, 2, 35), uniform({3, 4}, -2, 2, 36)});
}

TEST_CASE("gradcheck: a composite of ops (T5's gated FFN activation)") {
  // gelu_new(a) * b, then a softmax-free reduction: exercises accumulation across ops.
  check_grad("gated",
             [](const std::vector<Variable>& v) {
               Variable h = mul(gelu_new(v[0]), v[1]);
               return add(mul(h, h), exp(mul_scalar(v[0], 0.1)));
             },
             {uniform({2, 5}, -2, 2, 41), uniform({2, 5}, -2, 2, 42)});
}

TEST_CASE("cast: gradient returns in the input's dtype") {
  Variable x(Tensor::from_vector<double>({0.1, -2.5, 3.0}, {3}), true);
  Variable y = cast(x, DType::f32);
  CHECK(y.dtype() == DType::f32);
  Variable loss = sum(mul_scalar(mul(y, y), 0.5));  // d/dx = x, carried through f32
  loss.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == DType::f64);
  std::vector<double> g = x.grad().to_vector<double>();
  CHECK(g[0] == static_cast<double>(0.1f));
  CHECK(g[1] == -2.5);
  CHECK(g[2] == 3.0);
  // Casting to an integer dtype ends the graph.
  Variable ids = cast(x, DType::i64);
  CHECK_FALSE(ids.requires_grad());
  CHECK(ids.data().to_vector<int64_t>() == std::vector<int64_t>{0, -2, 3});
  check_grad("cast f64 -> f64 in a chain",
             [](const std::vector<Variable>& v) { return mul(cast(v[0], DType::f64), v[0]); },
             {uniform({2, 3}, -1, 1, 51)});
}
