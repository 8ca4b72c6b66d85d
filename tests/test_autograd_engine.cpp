// The backward engine: gradient accumulation through diamonds and reused tensors, across backward
// calls, grad mode, release of saved tensors, and activation checkpointing (bitwise equal to the
// plain run).
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "tensor/ops.h"

using namespace t5zero;
using namespace t5zero::autograd;

namespace {

Tensor uniform(const Shape& shape, uint32_t seed, DType dtype = DType::f64) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-2, 2);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return Tensor::from_vector(v, shape, dtype);
}

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

// Bitwise equality of two tensors' contents.
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * dtype_size(ca.dtype())) == 0;
}

}  // namespace

TEST_CASE("diamond: y = a*b + a*c sends both paths' gradients to a") {
  Variable a(Tensor::from_vector<double>({1, 2, 3}, {3}), true);
  Variable b(Tensor::from_vector<double>({4, 5, 6}, {3}), true);
  Variable c(Tensor::from_vector<double>({-1, 0.5, 2}, {3}), true);
  Variable y = sum(add(mul(a, b), mul(a, c)));
  CHECK(y.data().item() == 1 * 3 + 2 * 5.5 + 3 * 8);
  y.backward();
  CHECK(values(a.grad()) == std::vector<double>{3, 5.5, 8});  // b + c
  CHECK(values(b.grad()) == std::vector<double>{1, 2, 3});    // a
  CHECK(values(c.grad()) == std::vector<double>{1, 2, 3});    // a
}

TEST_CASE("a deeper diamond through a shared intermediate") {
  // h = exp(x); y = h*h + 3h  => dy/dx = (2h + 3)·h
  Variable x(Tensor::from_vector<double>({0.5, -1}, {2}), true);
  Variable h = exp(x);
  Variable y = sum(add(mul(h, h), mul_scalar(h, 3)));
  y.backward();
  std::vector<double> g = values(x.grad());
  for (int i = 0; i < 2; ++i) {
    double hv = std::exp(x.data().at({i}));
    CHECK(g[i] == doctest::Approx((2 * hv + 3) * hv).epsilon(1e-15));
  }
}

TEST_CASE("a tensor used twice: x*x and x*x*x") {
  Variable x(Tensor::from_vector<double>({1.5, -2, 0.25}, {3}), true);
  sum(mul(x, x)).backward();
  CHECK(values(x.grad()) == std::vector<double>{3, -4, 0.5});
  x.zero_grad();
  sum(mul(mul(x, x), x)).backward();
  CHECK(values(x.grad()) == std::vector<double>{3 * 2.25, 3 * 4, 3 * 0.0625});
}

TEST_CASE("gradients accumulate into leaves across backward calls") {
  Variable x(Tensor::from_vector<double>({1, 2}, {2}), true);
  Variable w(Tensor::from_vector<double>({3, -1}, {2}), true);
  sum(mul(x, w)).backward();
  sum(mul_scalar(x, 10)).backward();
  CHECK(values(x.grad()) == std::vector<double>{13, 9});
  CHECK(values(w.grad()) == std::vector<double>{1, 2});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x).backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("leaf gradients are contiguous tensors of their own") {
  Variable a(Tensor::zeros({2, 3}, DType::f64), true);
  Variable b(Tensor::zeros({2, 3}, DType::f64), true);
  Tensor seed = uniform({2, 3}, 3);
  add(a, b).backward(seed);  // add hands the same gradient tensor to both inputs
  REQUIRE(a.grad().defined());
  CHECK(same_bits(a.grad(), seed));
  CHECK(same_bits(b.grad(), seed));
  CHECK_FALSE(a.grad().shares_storage(b.grad()));
  CHECK_FALSE(a.grad().shares_storage(seed));
  // A transposed view's gradient arrives contiguous.
  Variable t(Tensor::zeros({3, 2}, DType::f64), true);
  transpose(t, 0, 1).backward(seed);
  CHECK(t.grad().is_contiguous());
  CHECK(same_bits(t.grad(), seed.transpose(0, 1)));
}

TEST_CASE("only inputs that require grad get gradients") {
  Variable x(Tensor::from_vector<double>({1, 2}, {2}), true);
  Variable constant(Tensor::from_vector<double>({5, 7}, {2}), false);
  Variable y = mul(x, constant);
  CHECK(y.requires_grad());
  y.backward(Tensor::ones({2}, DType::f64));
  CHECK(values(x.grad()) == std::vector<double>{5, 7});
  CHECK_FALSE(constant.grad().defined());
  Variable z = mul(constant, constant);
  CHECK_FALSE(z.requires_grad());
  CHECK(z.grad_fn() == nullptr);
  CHECK_THROWS_WITH_AS(z.backward(), "backward() on a variable that does not require grad", Error);
  CHECK_THROWS_WITH_AS(Variable(Tensor::zeros({2}, DType::i64), true),
                       "only floating tensors can require grad, got i64", Error);
}

TEST_CASE("the no-grad guard records nothing and restores the mode") {
  Variable x(Tensor::from_vector<double>({1, 2}, {2}), true);
  CHECK(grad_enabled());
  {
    NoGradGuard no_grad;
    CHECK_FALSE(grad_enabled());
    Variable y = exp(mul(x, x));
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    {
      GradModeGuard enable(true);
      CHECK(mul(x, x).grad_fn() != nullptr);
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  CHECK(mul(x, x).grad_fn() != nullptr);
}

TEST_CASE("backward through released nodes fails with a clear error") {
  Variable x(Tensor::from_vector<double>({1, 2}, {2}), true);
  Variable y = sum(mul(x, x));
  y.backward();
  CHECK_THROWS_WITH_AS(
      y.backward(),
      "backward through sum a second time: its saved tensors were released after the first "
      "backward",
      Error);
  // A second output sharing the released part of the graph fails at that part.
  Variable h = mul(x, x);
  Variable first = sum(h);
  Variable second = sum(mul_scalar(h, 3));
  first.backward();
  CHECK_THROWS_WITH_AS(
      second.backward(),
      "backward through mul a second time: its saved tensors were released after the first "
      "backward",
      Error);
}

TEST_CASE("backward argument errors") {
  Variable x(Tensor::from_vector<double>({1, 2}, {2}), true);
  Variable y = mul(x, x);
  CHECK_THROWS_WITH_AS(y.backward(),
                       "backward() of a non-scalar of shape [2] needs an explicit output gradient",
                       Error);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({3}, DType::f64)),
                       "backward(): gradient of shape [3] for a variable of shape [2]", Error);
}

TEST_CASE("saved tensors are released after backward") {
  Variable x(uniform({4}, 1), true);
  Variable b(uniform({4}, 2), true);
  Variable h = exp(x);  // an intermediate the mul node saves (as its input)
  std::weak_ptr<Storage> saved = h.data().storage();
  Variable y = sum(mul(h, b));
  std::shared_ptr<Node> mul_node = y.grad_fn()->inputs[0].grad_fn();
  REQUIRE(mul_node != nullptr);
  CHECK(mul_node->name == "mul");
  h = Variable();  // only the graph holds the intermediate now
  CHECK_FALSE(saved.expired());
  y.backward();
  CHECK(saved.expired());
  CHECK(mul_node->backward == nullptr);
  CHECK(mul_node->inputs.empty());
  CHECK(y.grad_fn()->backward == nullptr);
  // The gradients were still right.
  std::vector<double> gx = values(x.grad());
  for (int64_t i = 0; i < 4; ++i) {
    CHECK(gx[i] == doctest::Approx(std::exp(x.data().at({i})) * b.data().at({i})).epsilon(1e-15));
  }
}

TEST_CASE("activation checkpointing: identical outputs and gradients, bitwise") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO(std::string(dtype_name(dtype)));
    // A captured "parameter" leaf, as a T5 block captures its weights.
    Variable w(uniform({4}, 10, dtype), true);
    CheckpointFn block = [&w](const std::vector<Variable>& in) {
      Variable h = dropout(gelu_new(mul(in[0], w)), 0.25, 1234, 0);
      return add(mul(h, in[1]), tanh(in[0]));
    };
    Tensor x_data = uniform({3, 4}, 11, dtype);
    Tensor y_data = uniform({3, 4}, 12, dtype);

    Variable x1(x_data, true), y1(y_data, true);
    Variable out1 = block({x1, y1});
    Variable loss1 = sum_squares(out1);
    loss1.backward();
    Tensor gw1 = w.grad();
    w.zero_grad();

    Variable x2(x_data, true), y2(y_data, true);
    Variable out2 = checkpoint(block, {x2, y2});
    // The checkpoint keeps one node whose inputs are the checkpoint's inputs: nothing inside.
    REQUIRE(out2.grad_fn() != nullptr);
    CHECK(out2.grad_fn()->name == "checkpoint");
    CHECK(out2.grad_fn()->inputs.size() == 2);
    CHECK(out2.grad_fn()->inputs[0].is_leaf());
    Variable loss2 = sum_squares(out2);
    loss2.backward();

    CHECK(same_bits(out1.data(), out2.data()));
    CHECK(same_bits(loss1.data(), loss2.data()));
    CHECK(same_bits(x1.grad(), x2.grad()));
    CHECK(same_bits(y1.grad(), y2.grad()));
    REQUIRE(w.grad().defined());
    CHECK(same_bits(gw1, w.grad()));
    // The dropout inside did drop something, so the recomputation had to reproduce its mask.
    CHECK(ops::sum(ops::eq_scalar(dropout(Variable(x_data), 0.25, 1234, 0).data(), 0)).item() > 0);
  }
}

TEST_CASE("checkpointing with grad mode off just runs the function") {
  Variable x(uniform({3}, 20), true);
  NoGradGuard no_grad;
  Variable out = checkpoint([](const std::vector<Variable>& in) { return exp(in[0]); }, {x});
  CHECK(out.grad_fn() == nullptr);
  CHECK(same_bits(out.data(), ops::exp(x.data())));
}
