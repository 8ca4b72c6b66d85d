// Dropout keyed by (seed, global element): partition invariance, keep rate, scaling, edge p.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "tensor/ops.h"
#include "tensor/philox.h"

using namespace t5zero;

TEST_CASE("the mask depends only on (seed, global element): halves at offsets 0 and 50") {
  const double p = 0.3;
  const uint64_t seed = 0x5eed5eed12345ull;
  std::vector<uint8_t> whole = ops::dropout_mask({100}, p, seed, 0).to_vector<uint8_t>();
  std::vector<uint8_t> first = ops::dropout_mask({50}, p, seed, 0).to_vector<uint8_t>();
  std::vector<uint8_t> second = ops::dropout_mask({50}, p, seed, 50).to_vector<uint8_t>();
  std::vector<uint8_t> joined = first;
  joined.insert(joined.end(), second.begin(), second.end());
  CHECK(whole == joined);
  // And the shape does not matter, only the linear index.
  CHECK(ops::dropout_mask({10, 10}, p, seed, 0).to_vector<uint8_t>() == whole);
  // Each element is the Philox uniform compared with p.
  for (uint64_t e = 0; e < 100; ++e) {
    CAPTURE(e);
    CHECK(whole[e] == (philox_uniform_at(seed, e) < p ? 0 : 1));
  }
  // Another seed gives another mask.
  CHECK(ops::dropout_mask({100}, p, seed + 1, 0).to_vector<uint8_t>() != whole);
}

TEST_CASE("dropout zeroes masked elements and scales the rest by 1/(1-p)") {
  const double p = 0.25;
  Tensor x = ops::add_scalar(ops::arange(0, 1000, 1, DType::f64), 1.0);  // no zeros of its own
  Tensor y = ops::dropout(x, p, 7, 123);
  std::vector<uint8_t> mask = ops::dropout_mask({1000}, p, 7, 123).to_vector<uint8_t>();
  std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
  int kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    CAPTURE(i);
    CHECK(yv[i] == (mask[i] ? xv[i] * (1 / (1 - p)) : 0.0));
    kept += mask[i];
  }
  CHECK(kept > 0);
  CHECK(kept < 1000);
  // Non-contiguous inputs are walked in logical (row-major) order.
  Tensor m = ops::arange(1, 13, 1, DType::f32).reshape({3, 4});
  Tensor mt = m.transpose(0, 1);  // [4, 3]
  std::vector<double> out = ops::dropout(mt, 0.5, 9, 0).to_vector<double>();
  std::vector<uint8_t> mask12 = ops::dropout_mask({12}, 0.5, 9, 0).to_vector<uint8_t>();
  std::vector<double> mtv = mt.to_vector<double>();
  for (size_t i = 0; i < 12; ++i) CHECK(out[i] == (mask12[i] ? mtv[i] * 2 : 0.0));
  // bf16: the scaled value rounded once.
  Tensor b = Tensor::full({64}, 1.0, DType::bf16);
  std::vector<double> bv = ops::dropout(b, 0.1, 3, 0).to_vector<double>();
  std::vector<uint8_t> bm = ops::dropout_mask({64}, 0.1, 3, 0).to_vector<uint8_t>();
  for (size_t i = 0; i < 64; ++i) {
    CHECK(bv[i] == (bm[i] ? static_cast<double>(round_to_bf16(static_cast<float>(1 / 0.9))) : 0.0));
  }
}

TEST_CASE("keep rate is 1-p within statistical bounds on 1e6 elements") {
  const int64_t n = 1000000;
  for (double p : {0.1, 0.5, 0.9}) {
    CAPTURE(p);
    Tensor mask = ops::dropout_mask({n}, p, 2024, 1ull << 40);
    const double kept = ops::sum(mask.to(DType::f64)).item();
    // Binomial: standard deviation sqrt(n p (1-p)) <= 500; allow 6 of them.
    const double sigma = std::sqrt(n * p * (1 - p));
    CHECK(std::fabs(kept - n * (1 - p)) < 6 * sigma);
  }
  // The expectation is preserved: mean of dropout(1) ≈ 1.
  Tensor ones = Tensor::ones({n}, DType::f32);
  CHECK(ops::mean(ops::dropout(ones, 0.1, 5, 0).to(DType::f64)).item() ==
        doctest::Approx(1.0).epsilon(3e-3));
}

TEST_CASE("p = 0 copies, p = 1 zeroes, p outside [0, 1] is refused") {
  Tensor x = Tensor::from_vector<double>({1, -2, 3, 4}, {2, 2});
  Tensor same = ops::dropout(x, 0.0, 1, 0);
  CHECK(same.to_vector<double>() == x.to_vector<double>());
  CHECK_FALSE(same.shares_storage(x));
  CHECK(ops::dropout(x, 1.0, 1, 0).to_vector<double>() == std::vector<double>{0, 0, 0, 0});
  CHECK(ops::dropout_mask({3}, 0.0, 1, 0).to_vector<uint8_t>() == std::vector<uint8_t>{1, 1, 1});
  CHECK(ops::dropout_mask({3}, 1.0, 1, 0).to_vector<uint8_t>() == std::vector<uint8_t>{0, 0, 0});
  CHECK_THROWS_WITH(ops::dropout(x, 1.5, 1, 0), "dropout: p must lie in [0, 1], got 1.5");
  CHECK_THROWS_WITH(ops::dropout_mask({3}, -0.1, 1, 0), doctest::Contains("got -0.1"));
  CHECK_THROWS_WITH(ops::dropout(Tensor::zeros({2}, DType::i64), 0.5, 1, 0),
                    doctest::Contains("floating"));
}
