// The vectorizable math of the CPU kernels (tensor/cpu/vector_math.h): exp_f32 within one ulp of
// the correctly rounded e^x, exp_f64 to 1e-13, their special values, and the lane reductions
// against plain sums and maxima.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tensor/cpu/vector_math.h"

using namespace t5zero;
using namespace t5zero::cpu;

namespace {

// |got − e^x| in units of the last place of the float nearest e^x (e^x from long double).
double ulp_error(float x, float got) {
  const long double exact = std::exp(static_cast<long double>(x));
  const float nearest = static_cast<float>(exact);
  const double ulp = std::ldexp(1.0, std::ilogb(nearest) - 23);
  return static_cast<double>(std::fabs(static_cast<long double>(got) - exact)) / ulp;
}

}  // namespace

TEST_CASE("exp_f32 is within one ulp of e^x over the normal range") {
  double worst = 0;
  float worst_x = 0;
  // Every 1/1024 from -87 to 88 (results from 1.6e-38 to 1.6e38), plus random points.
  std::vector<float> xs;
  for (int i = -87 * 1024; i <= 88 * 1024; ++i) xs.push_back(static_cast<float>(i) / 1024.0f);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-87.0f, 88.0f);
  for (int i = 0; i < 200000; ++i) xs.push_back(uniform(rng));
  for (float x : xs) {
    const double e = ulp_error(x, exp_f32(x));
    if (e > worst) {
      worst = e;
      worst_x = x;
    }
  }
  INFO("worst x = ", worst_x);
  CHECK(worst < 1.0);
  // Exact where e^x is a float: e^0 = 1.
  CHECK(exp_f32(0.0f) == 1.0f);
}

TEST_CASE("exp_f32 at the edges: subnormal results, overflow, infinities, NaN") {
  const float subnormal_ulp = std::numeric_limits<float>::denorm_min();
  for (float x : {-88.0f, -95.0f, -100.0f, -103.0f}) {
    CAPTURE(x);
    CHECK(std::fabs(exp_f32(x) - std::exp(x)) <= subnormal_ulp);
  }
  CHECK(exp_f32(-104.0f) == 0.0f);
  CHECK(exp_f32(-1e30f) == 0.0f);
  CHECK(exp_f32(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(exp_f32(-std::numeric_limits<float>::max()) == 0.0f);  // a masked attention score
  CHECK(std::isinf(exp_f32(88.8f)));
  CHECK(std::isinf(exp_f32(std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(exp_f32(std::numeric_limits<float>::quiet_NaN())));
  // The largest finite result.
  CHECK(ulp_error(88.72f, exp_f32(88.72f)) < 1.0);
}

TEST_CASE("exp_f64 has relative error below 1e-13") {
  double worst = 0;
  for (int i = -7000; i <= 7000; ++i) {
    const double x = i * 0.1 + 0.0123;
    const long double exact = std::exp(static_cast<long double>(x));
    const double rel = static_cast<double>(std::fabs((exp_f64(x) - exact) / exact));
    worst = std::max(worst, rel);
  }
  CHECK(worst < 1e-13);
  CHECK(exp_f64(0.0) == 1.0);
  CHECK(exp_f64(-1e4) == 0.0);
  CHECK(std::isinf(exp_f64(710.0)));
  CHECK(exp_f64(-std::numeric_limits<double>::infinity()) == 0.0);
  CHECK(std::isnan(exp_f64(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("exp_of picks exp_f32 for float and the C library for double") {
  CHECK(exp_of(1.5f) == exp_f32(1.5f));
  CHECK(exp_of(1.5) == std::exp(1.5));
}

TEST_CASE("lane_sum and lane_max against plain loops, for every length up to 70") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> small(-1000, 1000);
  for (int64_t n = 0; n <= 70; ++n) {
    CAPTURE(n);
    // Integers: every order of summation gives the exact sum.
    std::vector<double> v(static_cast<size_t>(n));
    for (double& x : v) x = small(rng);
    double plain = 0, plain_max = -std::numeric_limits<double>::infinity();
    for (double x : v) {
      plain += x;
      plain_max = std::max(plain_max, x);
    }
    CHECK(lane_sum<double>(n, [&](int64_t j) { return v[j]; }) == plain);
    CHECK(lane_max<double>(n, [&](int64_t j) { return v[j]; }) == plain_max);
  }
  // The order is fixed: lane l sums j ≡ l (mod 16), then lanes pairwise. 1e16 + 1 loses the 1
  // when added to 1e16 first, so the lane structure is visible in the result.
  std::vector<double> w(32, 0.0);
  w[0] = 1e16;
  w[1] = 1;   // lane 1
  w[16] = 1;  // lane 0, after 1e16: lost
  const double sum = lane_sum<double>(32, [&](int64_t j) { return w[j]; });
  // Lane 0 = 1e16 (the 1 is lost), lane 1 = 1; pairwise: lanes 0 + 8, 0 + 4, 0 + 2, then
  // lane 0 + lane 1 = 1e16 + 1 → 1e16 (rounds to even).
  CHECK(sum == 1e16);
  // The same values in another order lose nothing: 1 + 1 = 2 in lane 1, then 1e16 + 2 is exact.
  std::vector<double> u(32, 0.0);
  u[0] = 1e16;
  u[1] = 1;
  u[17] = 1;
  CHECK(lane_sum<double>(32, [&](int64_t j) { return u[j]; }) == 1e16 + 2);
}
