// AdamW against torch.optim.AdamW (fixture from tools/reference/make_optim_fixture.py), against a
// naive double-precision loop, and for the properties the trainer relies on: the bf16 copy is
// the rounded master, the thread count does not change a bit, a resumed step count continues
// the same trajectory.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/safetensors_reader.h"
#include "optim/adamw.h"

using namespace t5zero;

namespace {

const std::string kFixture =
    std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/optim/adamw.safetensors";

std::vector<float> floats(const SafetensorsReader& r, const std::string& name) {
  return r.load(name, TensorLoad::copy).to_vector<float>();
}

std::vector<double> doubles(const SafetensorsReader& r, const std::string& name) {
  return r.load(name, TensorLoad::copy).to_vector<double>();
}

// Largest |a - b| / max(|b|, floor) over the range.
double max_relative_error(const float* a, const float* b, size_t n, double floor = 1e-6) {
  double worst = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double denom = std::max(std::fabs(static_cast<double>(b[i])), floor);
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]) / denom);
  }
  return worst;
}

struct State {
  std::vector<float> params, grads, exp_avg, exp_avg_sq;
  explicit State(size_t n) : params(n), grads(n), exp_avg(n, 0.0f), exp_avg_sq(n, 0.0f) {}
  AdamWSpan span() {
    return AdamWSpan{params.data(),
                     grads.data(),
                     exp_avg.data(),
                     exp_avg_sq.data(),
                     static_cast<int64_t>(params.size()),
                     nullptr};
  }
};

// Deterministic pseudo-random values in [-scale, scale).
std::vector<float> pattern(size_t n, uint32_t seed, float scale) {
  std::vector<float> v(n);
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = scale * (static_cast<float>(x >> 8) / 8388608.0f - 1.0f);
  }
  return v;
}

}  // namespace

TEST_CASE("AdamW follows torch.optim.AdamW for 10 steps (weight decay, several lr/betas/eps)") {
  const SafetensorsReader r = SafetensorsReader::open(kFixture);
  const int cases = std::stoi(r.metadata().at("cases"));
  REQUIRE(cases == 5);
  for (int k = 0; k < cases; ++k) {
    CAPTURE(k);
    const std::string c = "case" + std::to_string(k) + ".";
    const std::vector<double> hyper = doubles(r, c + "hyper");
    const std::vector<double> lrs = doubles(r, c + "lrs");
    const std::vector<float> grads = floats(r, c + "grads");
    const std::vector<float> expected = floats(r, c + "params");
    State s(floats(r, c + "param0").size());
    s.params = floats(r, c + "param0");
    const size_t n = s.params.size();

    AdamW opt;
    const size_t g = opt.add_param_group({lrs[0], hyper[0], hyper[1], hyper[2], hyper[3]});
    const AdamWSpan span = s.span();
    for (size_t step = 0; step < lrs.size(); ++step) {
      CAPTURE(step);
      opt.set_lr(lrs[step]);
      std::copy(grads.begin() + step * n, grads.begin() + (step + 1) * n, s.grads.begin());
      opt.step(g, {&span, 1});
      CHECK(opt.step_count(g) == static_cast<int64_t>(step + 1));
      // Relative to the weights' scale (they start as N(0, 1)): a weight that crosses zero has
      // no meaningful relative error.
      CHECK(max_relative_error(s.params.data(), expected.data() + step * n, n, 1e-2) < 1e-6);
      // Same operation order and FMAs as torch's kernels: nearly every element is bit-identical.
      // (Not all: torch's vectorized sqrt is sometimes an ulp off the correctly rounded one.)
      size_t identical = 0;
      for (size_t i = 0; i < n; ++i) identical += s.params[i] == expected[step * n + i];
      CHECK(identical >= n * 95 / 100);
    }
    CHECK(max_relative_error(s.exp_avg.data(), floats(r, c + "exp_avg").data(), n, 1e-12) < 1e-6);
    CHECK(max_relative_error(s.exp_avg_sq.data(), floats(r, c + "exp_avg_sq").data(), n, 1e-20) <
          1e-6);
  }
}

TEST_CASE("AdamW equals a naive double-precision loop of the textbook formula on a large span") {
  // Large enough for the parallel path (several OpenMP chunks, vector tails).
  const size_t n = 100003;
  const AdamWHyperparams h{2e-3, 0.9, 0.99, 1e-7, 0.1};
  State s(n);
  s.params = pattern(n, 7, 1.0f);
  std::vector<double> p(s.params.begin(), s.params.end()), m(n, 0.0), v(n, 0.0);
  AdamW opt;
  opt.add_param_group(h);
  const AdamWSpan span = s.span();
  for (int t = 1; t <= 3; ++t) {
    const std::vector<float> g = pattern(n, 100u + static_cast<uint32_t>(t), 0.5f);
    std::copy(g.begin(), g.end(), s.grads.begin());  // in place: the span points at s.grads
    opt.step(0, {&span, 1});
    const double bc1 = 1.0 - std::pow(h.beta1, t);
    const double bc2 = 1.0 - std::pow(h.beta2, t);
    for (size_t i = 0; i < n; ++i) {
      p[i] -= h.lr * h.weight_decay * p[i];
      m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * g[i];
      v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * g[i] * g[i];
      p[i] -= h.lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + h.eps);
    }
  }
  double worst = 0.0;
  for (size_t i = 0; i < n; ++i) {
    worst = std::max(worst, std::fabs(s.params[i] - p[i]) / std::max(std::fabs(p[i]), 1e-3));
  }
  CHECK(worst < 1e-5);
  CHECK(worst > 0.0);  // fp32 against double: a zero would mean the comparison saw nothing
}

TEST_CASE("the bf16 copy written in the same pass is the master weight rounded to bf16") {
  const size_t n = 40000;
  State with_copy(n), without_copy(n);
  with_copy.params = without_copy.params = pattern(n, 3, 2.0f);
  with_copy.grads = without_copy.grads = pattern(n, 4, 1.0f);
  std::vector<bf16> copy(n, bf16{0xffff});
  AdamWSpan a = with_copy.span();
  a.params_bf16 = copy.data();
  const AdamWSpan b = without_copy.span();
  const AdamWStepScalars scalars = adamw_step_scalars({1e-2, 0.9, 0.999, 1e-8, 0.01}, 1);
  adamw_update(a, scalars);
  adamw_update(b, scalars);
  size_t inexact = 0;
  for (size_t i = 0; i < n; ++i) {
    REQUIRE(with_copy.params[i] == without_copy.params[i]);  // writing the copy changes nothing
    REQUIRE(copy[i].bits == to_bf16(with_copy.params[i]).bits);
    if (to_float(copy[i]) != with_copy.params[i]) ++inexact;
  }
  CHECK(inexact > n / 2);  // the copy really is rounded, not the fp32 bits
}

TEST_CASE("the update is bit-identical for one thread and for all threads") {
  const size_t n = 200001;
  State one(n), many(n);
  one.params = many.params = pattern(n, 11, 1.0f);
  one.grads = many.grads = pattern(n, 12, 0.1f);
  const AdamWStepScalars scalars = adamw_step_scalars({1e-3, 0.9, 0.999, 1e-8, 0.0}, 4);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  adamw_update(one.span(), scalars);
  omp_set_num_threads(threads);
  adamw_update(many.span(), scalars);
  CHECK(one.params == many.params);
  CHECK(one.exp_avg == many.exp_avg);
  CHECK(one.exp_avg_sq == many.exp_avg_sq);
}

TEST_CASE("resuming with the saved step count continues the same trajectory") {
  const size_t n = 1000;
  const AdamWHyperparams h{5e-3, 0.9, 0.999, 1e-8, 0.01};
  State straight(n);
  straight.params = pattern(n, 21, 1.0f);
  AdamW a;
  a.add_param_group(h);
  const AdamWSpan sa = straight.span();
  State resumed = straight;
  AdamW b;
  b.add_param_group(h);
  const AdamWSpan sb = resumed.span();
  for (int t = 0; t < 6; ++t) {
    const std::vector<float> g = pattern(n, 30u + static_cast<uint32_t>(t), 1.0f);
    std::copy(g.begin(), g.end(), straight.grads.begin());
    std::copy(g.begin(), g.end(), resumed.grads.begin());
    a.step(0, {&sa, 1});
    if (t < 3) b.step(0, {&sb, 1});
    if (t == 2) {  // "checkpoint": moments and weights stay, the optimizer object is rebuilt
      b = AdamW();
      b.add_param_group(h);
      b.set_step_count(0, 3);
    } else if (t > 2) {
      b.step(0, {&sb, 1});
    }
  }
  CHECK(straight.params == resumed.params);
  CHECK(a.step_count(0) == 6);
  CHECK(b.step_count(0) == 6);

  // A fresh count of 0 after the same checkpoint gives other weights: the count matters.
  State wrong = straight;
  AdamW c;
  c.add_param_group(h);
  const AdamWSpan sc = wrong.span();
  State right = straight;
  const AdamWSpan sr = right.span();
  const std::vector<float> g = pattern(n, 50, 1.0f);
  std::copy(g.begin(), g.end(), right.grads.begin());
  std::copy(g.begin(), g.end(), wrong.grads.begin());
  c.step(0, {&sc, 1});
  a.step(0, {&sr, 1});
  CHECK(wrong.params != right.params);
}

TEST_CASE("groups keep their own hyperparameters and step counts") {
  AdamW opt;
  const size_t g0 = opt.add_param_group({1e-3, 0.9, 0.999, 1e-8, 0.0});
  const size_t g1 = opt.add_param_group({1e-3, 0.8, 0.9, 1e-6, 0.1});
  std::vector<float> p(4, 1.0f), g(4, 0.5f), m(4, 0.0f), v(4, 0.0f);
  const AdamWSpan span{p.data(), g.data(), m.data(), v.data(), 4, nullptr};
  opt.step(g1, {&span, 1});
  opt.step(g1, {&span, 1});
  CHECK(opt.step_count(g0) == 0);
  CHECK(opt.step_count(g1) == 2);
  opt.set_lr(0.5);
  CHECK(opt.hyperparams(g0).lr == 0.5);
  CHECK(opt.hyperparams(g1).lr == 0.5);
  CHECK(opt.hyperparams(g1).beta1 == 0.8);
}

TEST_CASE("AdamW refuses bad hyperparameters, spans and groups with a message") {
  AdamW opt;
  CHECK_THROWS_WITH_AS(opt.add_param_group({1e-3, 0.9, 1.0, 1e-8, 0.0}),
                       "AdamW: beta2: expected in [0, 1), got 1", Error);
  CHECK_THROWS_WITH_AS(opt.add_param_group({-1e-3, 0.9, 0.999, 1e-8, 0.0}),
                       "AdamW: lr: expected >= 0, got -0.001", Error);
  CHECK_THROWS_WITH_AS(opt.add_param_group({1e-3, 0.9, 0.999, 1e-8, -0.1}),
                       "AdamW: weight_decay: expected >= 0, got -0.1", Error);
  CHECK_THROWS_WITH_AS(opt.step_count(0), "AdamW: param group 0: expected < 0", Error);
  std::vector<float> p(3);
  const AdamWSpan missing{p.data(), nullptr, p.data(), p.data(), 3, nullptr};
  CHECK_THROWS_WITH_AS(
      adamw_update(missing, adamw_step_scalars({}, 1)),
      "AdamW: span of 3 elements: expected params, grads, exp_avg and exp_avg_sq, got a null "
      "pointer",
      Error);
  CHECK_THROWS_WITH_AS(adamw_step_scalars({}, 0),
                       "AdamW: step: expected >= 1 (the count including this update), got 0",
                       Error);
}
