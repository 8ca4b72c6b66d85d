// The fused ops of autograd/fused_functions.h on the CPU, which defines them: finite-difference
// gradient checks (f64) in every differentiable input, and forward values against the tensor ops
// they are defined by. (On a GPU the same functions run the fused kernels; test_cuda_model
// compares those with these.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "autograd/functions.h"
#include "autograd/fused_functions.h"
#include "autograd/gradcheck.h"
#include "tensor/ops.h"
#include "tensor/relative_position.h"

using namespace t5zero;
using namespace t5zero::autograd;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = normal(rng) + shift;
  return Tensor::from_vector(v, shape);
}

void check(const char* what, const GradcheckResult& r) {
  std::printf("gradcheck %-52s worst error %.3e  (%s)\n", what, r.worst_error, r.where.c_str());
  CAPTURE(what);
  CAPTURE(r.where);
  CHECK(r.ok);
}

// Bit-identical values.
void check_identical(const Tensor& a, const Tensor& b, const char* what) {
  CAPTURE(what);
  REQUIRE(a.shape() == b.shape());
  CHECK(a.to_vector<double>() == b.to_vector<double>());
}

// HF's additive mask: 0 where attended, a large negative number on padded keys.
Tensor padding_mask(int64_t batch, int64_t keys, int64_t pads_in_last_row) {
  std::vector<double> m(static_cast<size_t>(batch * keys), 0.0);
  for (int64_t k = keys - pads_in_last_row; k < keys; ++k) {
    m[static_cast<size_t>((batch - 1) * keys + k)] = -1e9;
  }
  return Tensor::from_vector(m, {batch, 1, 1, keys});
}

}  // namespace

TEST_CASE("fused rms_norm: gradcheck in x and weight; forward is ops::rms_norm") {
  const Tensor x = random_tensor({2, 3, 8}, 1);
  const Tensor w = random_tensor({8}, 2, 0.3, 1.0);
  check("fused::rms_norm",
        gradcheck([](const std::vector<Variable>& v) { return fused::rms_norm(v[0], v[1], 1e-6); },
                  {x, w}));
  check("fused::rms_norm (eps 0.5, transposed x)",
        gradcheck([](const std::vector<Variable>& v) { return fused::rms_norm(v[0], v[1], 0.5); },
                  {random_tensor({5, 4}, 3).transpose(0, 1), random_tensor({5}, 4)}));
  check_identical(fused::rms_norm(Variable(x), Variable(w), 1e-6).data(), ops::rms_norm(x, w, 1e-6),
                  "forward");
}

TEST_CASE("fused gated_gelu: gradcheck in both inputs; forward is gelu_new(h0) * h1") {
  // Scale 2 reaches the tanh's saturated tails as well as its middle.
  const Tensor h0 = random_tensor({3, 4, 6}, 10, 2.0);
  const Tensor h1 = random_tensor({3, 4, 6}, 11);
  check("fused::gated_gelu",
        gradcheck([](const std::vector<Variable>& v) { return fused::gated_gelu(v[0], v[1]); },
                  {h0, h1}));
  check_identical(fused::gated_gelu(Variable(h0), Variable(h1)).data(),
                  ops::mul(ops::gelu_new(h0), h1), "forward");
}

TEST_CASE("fused attention_probs: gradcheck with and without dropout, broadcast biases") {
  const int64_t B = 2, H = 3, Tq = 4, Tk = 5;
  const Tensor scores = random_tensor({B, H, Tq, Tk}, 20, 2.0);
  // The self-attention bias (relative bias plus mask, full shape) and the cross-attention one
  // (the mask alone, broadcast over heads and queries; it takes no gradient in T5 but may here).
  const Tensor full_bias = ops::add(random_tensor({1, H, Tq, Tk}, 21), padding_mask(B, Tk, 2));
  const Tensor relative_bias = random_tensor({1, H, Tq, Tk}, 22);
  for (double p : {0.0, 0.3}) {
    CAPTURE(p);
    auto probs = [p](const std::vector<Variable>& v) {
      return fused::attention_probs(v[0], v[1], p, 99, 7);
    };
    check(p > 0 ? "fused::attention_probs (p 0.3, full bias)" : "fused::attention_probs (full)",
          gradcheck(probs, {scores, full_bias}));
    check(p > 0 ? "fused::attention_probs (p 0.3, [1,H,q,k] bias)"
                : "fused::attention_probs ([1,H,q,k] bias)",
          gradcheck(probs, {scores, relative_bias}));
    // The mask alone, as a constant (what cross-attention passes).
    const Tensor mask = padding_mask(B, Tk, 3);
    check(p > 0 ? "fused::attention_probs (p 0.3, mask constant)"
                : "fused::attention_probs (mask constant)",
          gradcheck(
              [&](const std::vector<Variable>& v) {
                return probs({v[0], Variable(mask)});
              },
              {scores}));

    const Tensor expected = ops::softmax(ops::add(scores, full_bias));
    check_identical(fused::attention_probs(Variable(scores), Variable(full_bias), p, 99, 7).data(),
                    p > 0 ? ops::dropout(expected, p, 99, 7) : expected, "forward");
  }
  // Masked keys get probability 0 in every row of the padded batch.
  const Tensor y =
      fused::attention_probs(Variable(scores), Variable(padding_mask(B, Tk, 2)), 0.0, 0, 0).data();
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t q = 0; q < Tq; ++q) {
      CHECK(y.at({B - 1, h, q, Tk - 1}) == 0.0);
      CHECK(y.at({B - 1, h, q, Tk - 2}) == 0.0);
      CHECK(y.at({0, h, q, Tk - 1}) > 0.0);
    }
  }
}

TEST_CASE("fused relative_position_bias: gradcheck in the table; lookup laid out [1, H, q, k]") {
  const int64_t buckets = 8, heads = 3;
  const Tensor table = random_tensor({buckets, heads}, 30);
  for (bool bidirectional : {true, false}) {
    CAPTURE(bidirectional);
    // Positions 2.. of a decoder (query_offset) against 6 keys: several positions per bucket.
    const Tensor ids = relative_position_buckets(3, 6, bidirectional, buckets, 16, 2);
    check(bidirectional ? "fused::relative_position_bias (bidirectional)"
                        : "fused::relative_position_bias (causal, offset 2)",
          gradcheck(
              [&](const std::vector<Variable>& v) {
                return fused::relative_position_bias(v[0], ids);
              },
              {table}));
    const Tensor bias = fused::relative_position_bias(Variable(table), ids).data();
    REQUIRE(bias.shape() == Shape{1, heads, 3, 6});
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t q = 0; q < 3; ++q) {
        for (int64_t k = 0; k < 6; ++k) {
          CHECK(bias.at({0, h, q, k}) == table.at({static_cast<int64_t>(ids.at({q, k})), h}));
        }
      }
    }
  }
  CHECK_THROWS_WITH_AS(
      fused::relative_position_bias(Variable(table), Tensor::zeros({4}, DType::i64)),
      doctest::Contains("relative_position_bias: expected a table"), Error);
}

TEST_CASE("fused cross_entropy: gradcheck with ignored targets; value is ops::cross_entropy") {
  const Tensor logits = random_tensor({6, 7}, 40, 2.0);
  const Tensor targets = Tensor::from_vector<int64_t>({3, -100, 0, 6, -100, 2}, {6});
  check(
      "fused::cross_entropy",
      gradcheck([&](const std::vector<Variable>& v) { return fused::cross_entropy(v[0], targets); },
                {logits}));
  check_identical(fused::cross_entropy(Variable(logits), targets).data(),
                  ops::cross_entropy(logits, targets), "loss");
  // The mean runs over the kept rows only: the loss by hand from log-softmax.
  const Tensor log_probs = ops::log_softmax(logits);
  double expected = 0;
  for (int64_t row : {0, 2, 3, 5}) {
    expected -= log_probs.at({row, static_cast<int64_t>(targets.at({row}))});
  }
  CHECK(fused::cross_entropy(Variable(logits), targets).data().item() ==
        doctest::Approx(expected / 4).epsilon(1e-12));
}
