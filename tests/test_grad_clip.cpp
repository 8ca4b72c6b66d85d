// Global-norm gradient clipping against torch.nn.utils.clip_grad_norm_ (fixture from
// tools/reference/make_optim_fixture.py), a naive double sum, shard partial sums, and the
// non-finite and disabled cases.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "io/safetensors_reader.h"
#include "optim/grad_clip.h"

using namespace t5zero;

namespace {

const std::string kFixture =
    std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/optim/grad_clip.safetensors";

std::vector<float> pattern(size_t n, uint32_t seed, float scale) {
  std::vector<float> v(n);
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = scale * (static_cast<float>(x >> 8) / 8388608.0f - 1.0f);
  }
  return v;
}

double naive_sum_of_squares(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += static_cast<double>(x) * x;
  return s;
}

}  // namespace

TEST_CASE("clip_grad_norm matches torch.nn.utils.clip_grad_norm_") {
  const SafetensorsReader r = SafetensorsReader::open(kFixture);
  const int cases = std::stoi(r.metadata().at("cases"));
  REQUIRE(cases == 4);
  for (int k = 0; k < cases; ++k) {
    CAPTURE(k);
    const std::string c = "case" + std::to_string(k) + ".";
    std::vector<std::vector<float>> grads;
    for (int i = 0; r.contains(c + "grad" + std::to_string(i)); ++i) {
      grads.push_back(r.load(c + "grad" + std::to_string(i), TensorLoad::copy).to_vector<float>());
    }
    const std::vector<std::vector<float>> original = grads;
    std::vector<std::span<float>> spans(grads.begin(), grads.end());
    const double max_norm = r.load(c + "max_norm").to_vector<double>()[0];
    const double torch_norm = r.load(c + "total_norm").to_vector<float>()[0];

    const GradClip clip = clip_grad_norm(spans, max_norm);
    CHECK(clip.finite);
    CHECK(clip.total_norm == doctest::Approx(torch_norm).epsilon(1e-6));
    CHECK(clip.clipped == (torch_norm > max_norm));
    for (size_t i = 0; i < grads.size(); ++i) {
      const std::vector<float> expected =
          r.load(c + "clipped" + std::to_string(i), TensorLoad::copy).to_vector<float>();
      REQUIRE(expected.size() == grads[i].size());
      for (size_t j = 0; j < expected.size(); ++j) {
        CHECK(grads[i][j] == doctest::Approx(expected[j]).epsilon(1e-6));
      }
      if (!clip.clipped) CHECK(grads[i] == original[i]);
    }
  }
}

TEST_CASE("clipping multiplies by max_norm / (norm + 1e-6) (hand-worked: norm 5)") {
  std::vector<float> g = {3.0f, 4.0f};  // norm 5
  std::vector<std::span<float>> spans = {g};
  const GradClip clip = clip_grad_norm(spans, 1.0);
  CHECK(clip.total_norm == 5.0);
  CHECK(clip.clipped);
  CHECK(clip.coefficient == doctest::Approx(1.0 / (5.0 + 1e-6)).epsilon(1e-15));
  CHECK(g[0] == static_cast<float>(3.0f * static_cast<float>(1.0 / (5.0 + 1e-6))));
  CHECK(g[1] == doctest::Approx(0.8).epsilon(1e-6));
}

TEST_CASE("the sum of squares equals a naive double sum, and is the same for any thread count") {
  const std::vector<float> g = pattern(1'000'003, 5, 2.0f);
  const double naive = naive_sum_of_squares(g);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = grad_sum_of_squares(std::span<const float>(g));
  omp_set_num_threads(threads);
  const double many = grad_sum_of_squares(std::span<const float>(g));
  CHECK(one == many);
  CHECK(one == doctest::Approx(naive).epsilon(1e-6));
}

TEST_CASE("partial sums of shards add up to the global norm (what ZeRO all-reduces)") {
  const std::vector<float> a = pattern(10000, 1, 1.0f), b = pattern(777, 2, 3.0f);
  // Three "ranks" holding uneven contiguous pieces of the flattened [a, b].
  std::vector<float> flat(a);
  flat.insert(flat.end(), b.begin(), b.end());
  const std::span<const float> all(flat);
  const double rank0 = grad_sum_of_squares(all.subspan(0, 4000));
  const double rank1 = grad_sum_of_squares(all.subspan(4000, 6500));
  const double rank2 = grad_sum_of_squares(all.subspan(10500));
  const std::vector<std::span<const float>> whole = {std::span<const float>(a),
                                                     std::span<const float>(b)};
  const double single = grad_sum_of_squares(whole);
  CHECK(rank0 + rank1 + rank2 == doctest::Approx(single).epsilon(1e-7));
  CHECK(single == doctest::Approx(naive_sum_of_squares(flat)).epsilon(1e-6));
  const GradClip clip = clip_decision(rank0 + rank1 + rank2, 1.0);
  CHECK(clip.total_norm == doctest::Approx(std::sqrt(naive_sum_of_squares(flat))).epsilon(1e-6));
  CHECK(clip.clipped);
}

TEST_CASE("a non-finite norm is flagged and the gradients are left as they were") {
  for (float bad : {std::numeric_limits<float>::infinity(), std::nanf("")}) {
    std::vector<float> g = pattern(100, 9, 1.0f);
    g[42] = bad;
    const std::vector<float> before = g;
    std::vector<std::span<float>> spans = {g};
    const GradClip clip = clip_grad_norm(spans, 1.0);
    CHECK_FALSE(clip.finite);
    CHECK_FALSE(clip.clipped);
    for (size_t i = 0; i < g.size(); ++i) {
      if (i != 42) CHECK(g[i] == before[i]);
    }
  }
  // fp32 squares overflow to inf for huge gradients, as in torch's fp32 norm.
  std::vector<float> huge = {3e38f, 3e38f};
  CHECK_FALSE(clip_decision(grad_sum_of_squares(std::span<const float>(huge)), 1.0).finite);
}

TEST_CASE("max_norm 0 (DeepSpeed's gradient_clipping default) measures but does not clip") {
  std::vector<float> g = {30.0f, 40.0f};
  std::vector<std::span<float>> spans = {g};
  const GradClip clip = clip_grad_norm(spans, 0.0);
  CHECK(clip.total_norm == 50.0);
  CHECK_FALSE(clip.clipped);
  CHECK(clip.coefficient == 1.0);
  CHECK(g == std::vector<float>{30.0f, 40.0f});
}

TEST_CASE("empty gradient lists have norm 0") {
  std::vector<std::span<float>> none;
  const GradClip clip = clip_grad_norm(none, 1.0);
  CHECK(clip.total_norm == 0.0);
  CHECK(clip.finite);
  CHECK_FALSE(clip.clipped);
}
