// Softmax, log-softmax, cross-entropy and RMSNorm against naive loops and hand-checked values
// (cross-entropy values as torch.nn.functional.cross_entropy gives them; the bf16 RMSNorm case as
// transformers' T5LayerNorm gives it).
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tensor/ops.h"

using namespace t5zero;

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = normal(rng);
  return Tensor::from_vector(v, shape, dtype);
}

// Naive softmax of each row of a row-major [rows, cols] vector, in double.
std::vector<double> naive_softmax(const std::vector<double>& x, int64_t cols, bool log_space) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / cols; ++r) {
    double max = -INFINITY, sum = 0;
    for (int64_t j = 0; j < cols; ++j) max = std::max(max, x[r * cols + j]);
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(x[r * cols + j] - max);
    for (int64_t j = 0; j < cols; ++j) {
      const double z = x[r * cols + j] - max;
      y[r * cols + j] = log_space ? z - std::log(sum) : std::exp(z) / sum;
    }
  }
  return y;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

// max |a − b| / max(1, |b|)
double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(b[i])));
  }
  return worst;
}

double tolerance(DType dtype) {
  return dtype == DType::f64 ? 1e-14 : dtype == DType::f32 ? 1e-6 : 8e-3;
}

}  // namespace

TEST_CASE("softmax and log_softmax equal naive exp/sum, rows sum to 1") {
  for (DType dtype : {DType::f64, DType::f32, DType::bf16}) {
    CAPTURE(std::string(dtype_name(dtype)));
    Tensor x = random_tensor({3, 4, 37}, dtype, 1, 3.0);
    const std::vector<double> xv = x.to_vector<double>();
    Tensor y = ops::softmax(x);
    REQUIRE(y.dtype() == dtype);
    REQUIRE(y.shape() == x.shape());
    CHECK(max_abs_diff(y.to_vector<double>(), naive_softmax(xv, 37, false)) <= tolerance(dtype));
    std::vector<double> sums = ops::sum(y.to(DType::f64), {-1}).to_vector<double>();
    for (double s : sums)
      CHECK(s == doctest::Approx(1.0).epsilon(dtype == DType::bf16 ? 2e-2 : 1e-6));
    Tensor ly = ops::log_softmax(x);
    REQUIRE(ly.dtype() == dtype);
    // bf16 log-probabilities reach −20, where one bf16 step is 0.125: compare relatively.
    CHECK(max_rel_diff(ly.to_vector<double>(), naive_softmax(xv, 37, true)) <= tolerance(dtype));
  }
}

TEST_CASE("softmax over the last dim of a non-contiguous view") {
  Tensor base = random_tensor({5, 6}, DType::f64, 2);
  Tensor xt = base.transpose(0, 1);  // [6, 5], rows are strided
  std::vector<double> expected = naive_softmax(xt.to_vector<double>(), 5, false);
  CHECK(max_abs_diff(ops::softmax(xt).to_vector<double>(), expected) <= 1e-15);
}

TEST_CASE("softmax is stable for huge logits and masked entries") {
  // exp(1000) overflows in any dtype; the max-subtracted form gives softmax([0, 1, 2]).
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = Tensor::from_vector<double>({1000, 1001, 1002, -3.4e38, 0, -3.4e38}, {2, 3}, dtype);
    std::vector<double> y = ops::softmax(x).to_vector<double>();
    const double z = 1 + std::exp(1.0) + std::exp(2.0);
    CHECK(y[0] == doctest::Approx(1 / z).epsilon(1e-6));
    CHECK(y[1] == doctest::Approx(std::exp(1.0) / z).epsilon(1e-6));
    CHECK(y[2] == doctest::Approx(std::exp(2.0) / z).epsilon(1e-6));
    // A row masked with finfo.min except one entry puts all weight there.
    CHECK(y[3] == 0.0);
    CHECK(y[4] == 1.0);
    CHECK(y[5] == 0.0);
    std::vector<double> ly = ops::log_softmax(x).to_vector<double>();
    CHECK(ly[2] == doctest::Approx(2 - std::log(z)).epsilon(1e-6));
    CHECK(std::isfinite(ly[0]));
  }
}

TEST_CASE("softmax_backward and log_softmax_backward: y(g - Σgy) and g - exp(y)Σg") {
  Tensor x = Tensor::from_vector<double>({0.5, -1, 2}, {1, 3});
  Tensor g = Tensor::from_vector<double>({1, 2, -3}, {1, 3});
  Tensor y = ops::softmax(x);
  std::vector<double> yv = y.to_vector<double>();
  const double dot = 1 * yv[0] + 2 * yv[1] - 3 * yv[2];
  std::vector<double> dx = ops::softmax_backward(g, y).to_vector<double>();
  CHECK(dx[0] == doctest::Approx(yv[0] * (1 - dot)));
  CHECK(dx[1] == doctest::Approx(yv[1] * (2 - dot)));
  CHECK(dx[2] == doctest::Approx(yv[2] * (-3 - dot)));
  std::vector<double> ldx = ops::log_softmax_backward(g, ops::log_softmax(x)).to_vector<double>();
  CHECK(ldx[0] == doctest::Approx(1 - yv[0] * 0));  // Σg = 0 here: the gradient passes unchanged
  CHECK(ldx[2] == doctest::Approx(-3.0));
  Tensor g2 = Tensor::from_vector<double>({1, 1, 1}, {1, 3});
  std::vector<double> ldx2 = ops::log_softmax_backward(g2, ops::log_softmax(x)).to_vector<double>();
  for (int j = 0; j < 3; ++j) CHECK(ldx2[j] == doctest::Approx(1 - 3 * yv[j]));
  CHECK_THROWS_WITH(ops::softmax_backward(Tensor::zeros({1, 2}, DType::f64), y),
                    doctest::Contains("differ in shape"));
}

TEST_CASE("cross_entropy: mean over kept rows, matching torch") {
  const std::vector<double> logits = {1, 2, 3, 1, 1, 1, 0, 0, 10};
  for (DType dtype : {DType::f64, DType::f32}) {
    for (DType target_dtype : {DType::i64, DType::i32}) {
      Tensor l = Tensor::from_vector(logits, {3, 3}, dtype);
      Tensor t = Tensor::from_vector<int64_t>({2, -100, 0}, {3}, target_dtype);
      Tensor loss = ops::cross_entropy(l, t);
      REQUIRE(loss.dtype() == dtype);
      REQUIRE(loss.dim() == 0);
      // torch.nn.functional.cross_entropy(..., ignore_index=-100) in f64
      CHECK(loss.item() == doctest::Approx(5.203848380090924).epsilon(1e-7));
      Tensor all = Tensor::from_vector<int64_t>({1, 1, 1}, {3}, target_dtype);
      CHECK(ops::cross_entropy(l, all).item() == doctest::Approx(4.168769682949986).epsilon(1e-7));
      // The same by the definition: logsumexp − logit[target].
      const double row0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3;
      const double row2 = 10 + std::log(2 * std::exp(-10.0) + 1);
      CHECK(loss.item() == doctest::Approx((row0 + row2) / 2).epsilon(1e-7));
    }
  }
  // A custom ignore index.
  Tensor l = Tensor::from_vector(logits, {3, 3});
  Tensor t = Tensor::from_vector<int64_t>({2, 7, 0}, {3});
  CHECK(ops::cross_entropy(l, t, 7).item() == doctest::Approx(5.203848380090924).epsilon(1e-6));
}

TEST_CASE("cross_entropy: every target ignored gives 0 and a zero gradient") {
  Tensor l = random_tensor({4, 5}, DType::f32, 3);
  Tensor t = Tensor::from_vector<int64_t>({-100, -100, -100, -100}, {4});
  Tensor loss = ops::cross_entropy(l, t);
  CHECK(loss.item() == 0.0);
  Tensor g = ops::cross_entropy_backward(Tensor::ones({}), l, t);
  CHECK(ops::amax(ops::mul(g, g)).item() == 0.0);
}

TEST_CASE("cross_entropy: a target outside [0, V) names the row and the value") {
  Tensor l = Tensor::zeros({3, 5});
  CHECK_THROWS_WITH(ops::cross_entropy(l, Tensor::from_vector<int64_t>({0, 5, 1}, {3})),
                    "cross_entropy: target 5 at row 1 is outside [0, 5) and is not ignore_index "
                    "(-100)");
  CHECK_THROWS_WITH(ops::cross_entropy(l, Tensor::from_vector<int32_t>({0, 1, -1}, {3})),
                    doctest::Contains("target -1 at row 2"));
  CHECK_THROWS_WITH(ops::cross_entropy_backward(Tensor::ones({}), l,
                                                Tensor::from_vector<int64_t>({9, 1, 1}, {3})),
                    doctest::Contains("target 9 at row 0"));
  CHECK_THROWS_WITH(ops::cross_entropy(l, Tensor::zeros({3}, DType::f32)),
                    doctest::Contains("targets must be i32 or i64, got f32"));
  CHECK_THROWS_WITH(ops::cross_entropy(l, Tensor::zeros({2}, DType::i64)),
                    doctest::Contains("targets must be [3]"));
}

TEST_CASE("cross_entropy_backward: (softmax - onehot) · g / kept, ignored rows zero (torch)") {
  Tensor l = Tensor::from_vector<double>({1, 2, 3, 1, 1, 1, 0, 0, 10}, {3, 3});
  Tensor t = Tensor::from_vector<int64_t>({2, -100, 0}, {3});
  std::vector<double> g =
      ops::cross_entropy_backward(Tensor::ones({}, DType::f64), l, t).to_vector<double>();
  // logits.grad after torch's cross_entropy(...).backward()
  const std::vector<double> expected = {
      0.04501528658519022,  0.12236423552739882,    -0.1673795221125891, 0.0, 0.0, 0.0,
      -0.49997730209608526, 2.2697903914755457e-05, 0.49995460419217047};
  CHECK(max_abs_diff(g, expected) <= 1e-15);
  // Scaled by dL/dloss.
  std::vector<double> g3 =
      ops::cross_entropy_backward(Tensor::full({}, 3.0, DType::f64), l, t).to_vector<double>();
  CHECK(g3[0] == doctest::Approx(3 * expected[0]));
}

namespace {

// rms_norm by its definition, in double: w · x / sqrt(mean(x²) + eps), per row.
std::vector<double> naive_rms_norm(const std::vector<double>& x, const std::vector<double>& w,
                                   double eps) {
  const size_t d = w.size();
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / d; ++r) {
    double ss = 0;
    for (size_t j = 0; j < d; ++j) ss += x[r * d + j] * x[r * d + j];
    const double inv = 1 / std::sqrt(ss / d + eps);
    for (size_t j = 0; j < d; ++j) y[r * d + j] = w[j] * x[r * d + j] * inv;
  }
  return y;
}

}  // namespace

TEST_CASE("rms_norm equals the naive loop (f64, f32)") {
  for (DType dtype : {DType::f64, DType::f32}) {
    Tensor x = random_tensor({2, 3, 16}, dtype, 4, 2.0);
    Tensor w = random_tensor({16}, dtype, 5);
    Tensor y = ops::rms_norm(x, w, 1e-6);
    REQUIRE(y.dtype() == dtype);
    REQUIRE(y.shape() == x.shape());
    std::vector<double> expected =
        naive_rms_norm(x.to_vector<double>(), w.to_vector<double>(), 1e-6);
    CHECK(max_abs_diff(y.to_vector<double>(), expected) <= tolerance(dtype) * 10);
  }
  // eps matters for small rows: x = [1e-3, 1e-3], eps = 1e-6 gives 1e-3 / sqrt(2e-6).
  Tensor small = Tensor::from_vector<double>({1e-3, 1e-3}, {1, 2});
  Tensor y = ops::rms_norm(small, Tensor::ones({2}, DType::f64), 1e-6);
  CHECK(y.at({0, 0}) == doctest::Approx(1e-3 / std::sqrt(2e-6)).epsilon(1e-12));
}

TEST_CASE("rms_norm bf16: the normalised value is rounded to bf16 before the weight multiply") {
  Tensor x = Tensor::from_vector<double>({1, 1, 1, 2}, {1, 4}, DType::bf16);
  Tensor w = Tensor::full({4}, 3.0, DType::bf16);
  std::vector<double> y = ops::rms_norm(x, w, 1e-6).to_vector<double>();
  // transformers' T5LayerNorm in bf16 on these values gives [2.28125 ×3, 4.5625]; multiplying the
  // unrounded f32 value would give [2.265625 ×3, 4.53125].
  CHECK(y == std::vector<double>{2.28125, 2.28125, 2.28125, 4.5625});
  // The same by emulation: f32 statistics, round, multiply, round.
  const float inv = 1.0f / std::sqrt(7.0f / 4.0f + 1e-6f);
  CHECK(y[0] == round_to_bf16(3.0f * round_to_bf16(1.0f * inv)));
  CHECK(y[3] == round_to_bf16(3.0f * round_to_bf16(2.0f * inv)));
  CHECK(y[0] != round_to_bf16(3.0f * inv));
}

TEST_CASE("rms_norm_backward equals the analytic gradient and sums grad_weight over rows") {
  const int64_t d = 8;
  Tensor x = random_tensor({3, 5, d}, DType::f64, 6);
  Tensor w = random_tensor({d}, DType::f64, 7);
  Tensor g = random_tensor({3, 5, d}, DType::f64, 8);
  ops::RmsNormGrads grads = ops::rms_norm_backward(g, x, w, 1e-6);
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(),
                            gv = g.to_vector<double>();
  std::vector<double> dx(xv.size()), dw(d, 0.0);
  for (size_t r = 0; r < xv.size() / d; ++r) {
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += xv[r * d + j] * xv[r * d + j];
    const double inv = 1 / std::sqrt(ss / d + 1e-6);
    // Full Jacobian: dn_j/dx_k = inv·δjk − x_j·x_k·inv³/d.
    for (int64_t k = 0; k < d; ++k) {
      double sum = 0;
      for (int64_t j = 0; j < d; ++j) {
        const double jac =
            (j == k ? inv : 0.0) - xv[r * d + j] * xv[r * d + k] * inv * inv * inv / d;
        sum += gv[r * d + j] * wv[j] * jac;
      }
      dx[r * d + k] = sum;
      dw[k] += gv[r * d + k] * xv[r * d + k] * inv;
    }
  }
  CHECK(max_abs_diff(grads.x.to_vector<double>(), dx) <= 1e-13);
  CHECK(max_abs_diff(grads.weight.to_vector<double>(), dw) <= 1e-13);
  CHECK(grads.weight.shape() == Shape{d});
}

TEST_CASE("rms_norm_backward's grad_weight is bit-identical on any thread count") {
  Tensor x = random_tensor({700, 96}, DType::f32, 9);
  Tensor w = random_tensor({96}, DType::f32, 10);
  Tensor g = random_tensor({700, 96}, DType::f32, 11);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  ops::RmsNormGrads one = ops::rms_norm_backward(g, x, w, 1e-6);
  omp_set_num_threads(std::max(threads, 3));
  ops::RmsNormGrads many = ops::rms_norm_backward(g, x, w, 1e-6);
  omp_set_num_threads(threads);
  CHECK(one.weight.to_vector<float>() == many.weight.to_vector<float>());
  CHECK(one.x.to_vector<float>() == many.x.to_vector<float>());
}

TEST_CASE("rms_norm refuses mismatched weights") {
  CHECK_THROWS_WITH(ops::rms_norm(Tensor::zeros({2, 4}), Tensor::zeros({3}), 1e-6),
                    doctest::Contains("weight must be [4]"));
  CHECK_THROWS_WITH(ops::rms_norm(Tensor::zeros({2, 4}), Tensor::zeros({4}, DType::bf16), 1e-6),
                    doctest::Contains("x is f32 but weight is bf16"));
}
