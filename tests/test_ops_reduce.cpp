// Reductions: hand-worked values, a naive loop (written here) on random shapes and dim sets with
// contiguous and non-contiguous inputs in f64 / f32 / bf16, double accumulation, determinism
// across thread counts, integer sums, edge cases and sum_to.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "tensor/ops.h"

using namespace t5zero;

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, std::mt19937& rng) {
  std::uniform_real_distribution<double> uniform(-2, 2);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = uniform(rng);
  return Tensor::from_vector(v, shape, dtype);
}

std::vector<int64_t> unravel(int64_t linear, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = linear % shape[d];
    linear /= shape[d];
  }
  return index;
}

enum class Kind { sum, mean, amax, sum_squares };

// The reduction computed element by element in double, in row-major order of a's elements.
std::vector<double> naive_reduce(const Tensor& a, const std::vector<int64_t>& dims, Kind kind,
                                 Shape* out_shape, bool keepdim) {
  std::set<int64_t> reduced;
  for (int64_t d : dims) reduced.insert(d < 0 ? d + a.dim() : d);
  if (dims.empty()) {
    for (int64_t d = 0; d < a.dim(); ++d) reduced.insert(d);
  }
  Shape kept;
  out_shape->clear();
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (!reduced.count(d)) kept.push_back(a.size(d));
    if (!reduced.count(d) || keepdim) out_shape->push_back(reduced.count(d) ? 1 : a.size(d));
  }
  const int64_t outputs = shape_numel(kept);
  const double start = kind == Kind::amax ? -std::numeric_limits<double>::infinity() : 0.0;
  std::vector<double> acc(outputs, start);
  std::vector<int64_t> counts(outputs, 0);
  for (int64_t i = 0; i < a.numel(); ++i) {
    std::vector<int64_t> index = unravel(i, a.shape());
    int64_t m = 0;
    for (int64_t d = 0; d < a.dim(); ++d) {
      if (!reduced.count(d)) m = m * a.size(d) + index[d];
    }
    double v = a.at(index);
    switch (kind) {
      case Kind::sum:
      case Kind::mean:
        acc[m] += v;
        break;
      case Kind::sum_squares:
        acc[m] += v * v;
        break;
      case Kind::amax:
        acc[m] = std::max(acc[m], v);
        break;
    }
    ++counts[m];
  }
  if (kind == Kind::mean) {
    for (int64_t m = 0; m < outputs; ++m) acc[m] /= static_cast<double>(counts[m]);
  }
  return acc;
}

Tensor run(Kind kind, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  switch (kind) {
    case Kind::sum:
      return ops::sum(a, dims, keepdim);
    case Kind::mean:
      return ops::mean(a, dims, keepdim);
    case Kind::amax:
      return ops::amax(a, dims, keepdim);
    case Kind::sum_squares:
      return ops::sum_squares(a, dims, keepdim);
  }
  return Tensor();
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::sum:
      return "sum";
    case Kind::mean:
      return "mean";
    case Kind::amax:
      return "amax";
    case Kind::sum_squares:
      return "sum_squares";
  }
  return "?";
}

// The kernel accumulates in double, in the same order as the naive loop, and rounds once into
// the input's dtype: f32 and bf16 results equal the naive double result rounded to them.
void check_against_naive(Kind kind, const Tensor& a, const std::vector<int64_t>& dims,
                         bool keepdim) {
  Shape dims_shape(dims.begin(), dims.end());
  INFO(std::string(kind_name(kind)), " ", std::string(dtype_name(a.dtype())), " of ",
       shape_str(a.shape()), " over ", shape_str(dims_shape), keepdim ? " keepdim" : "");
  Shape want_shape;
  std::vector<double> want = naive_reduce(a, dims, kind, &want_shape, keepdim);
  Tensor out = run(kind, a, dims, keepdim);
  REQUIRE(out.shape() == want_shape);
  REQUIRE(out.dtype() == a.dtype());
  std::vector<double> got = out.to_vector<double>();
  int mismatches = 0;
  for (size_t m = 0; m < want.size(); ++m) {
    double expected = want[m];
    if (a.dtype() == DType::f32) expected = static_cast<float>(expected);
    if (a.dtype() == DType::bf16) expected = round_to_bf16(static_cast<float>(expected));
    bool ok = a.dtype() == DType::f64
                  ? std::fabs(got[m] - expected) <= 1e-13 * std::max(1.0, std::fabs(expected))
                  : got[m] == expected;
    if (!ok && mismatches++ < 5) MESSAGE("output ", m, ": got ", got[m], ", want ", expected);
  }
  CHECK(mismatches == 0);
}

const Kind kKinds[] = {Kind::sum, Kind::mean, Kind::amax, Kind::sum_squares};
const DType kFloating[] = {DType::f64, DType::f32, DType::bf16};

}  // namespace

TEST_CASE("reductions: hand-worked values and shapes") {
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(ops::sum(a, {0}).to_vector<double>() == std::vector<double>{5, 7, 9});
  CHECK(ops::sum(a, {1}).to_vector<double>() == std::vector<double>{6, 15});
  CHECK(ops::sum(a, {-1}, true).shape() == Shape{2, 1});
  Tensor all = ops::sum(a);
  CHECK(all.shape() == Shape{});
  CHECK(all.item() == 21);
  CHECK(ops::sum(a, {}, true).shape() == Shape{1, 1});
  CHECK(ops::sum(a, {0, 1}).item() == 21);
  CHECK(ops::mean(a, {1}).to_vector<double>() == std::vector<double>{2, 5});
  CHECK(ops::mean(a).item() == 3.5);
  CHECK(ops::amax(a, {0}).to_vector<double>() == std::vector<double>{4, 5, 6});
  CHECK(ops::amax(ops::neg(a), {1}).to_vector<double>() == std::vector<double>{-1, -4});
  CHECK(ops::sum_squares(a).item() == 91);
  CHECK(ops::sum_squares(a, {0}).to_vector<double>() == std::vector<double>{17, 29, 45});
  // Reducing a transposed view follows the view's dims, not the storage's.
  CHECK(ops::sum(a.transpose(0, 1), {1}).to_vector<double>() == std::vector<double>{5, 7, 9});
  // A rank-0 tensor reduces to itself.
  CHECK(ops::sum(Tensor::full({}, 4, DType::f32)).item() == 4);
}

TEST_CASE("reductions agree with a naive loop on random shapes, dims and dtypes") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> rank_dist(1, 4), size_dist(1, 6), coin(0, 1);
  for (int trial = 0; trial < 60; ++trial) {
    Shape shape(rank_dist(rng));
    for (int64_t& s : shape) s = size_dist(rng);
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
      if (coin(rng)) dims.push_back(coin(rng) ? d : d - static_cast<int64_t>(shape.size()));
    }
    DType dtype = kFloating[trial % 3];
    Tensor a = random_tensor(shape, dtype, rng);
    for (Kind kind : kKinds) check_against_naive(kind, a, dims, trial % 2 == 0);
  }
}

TEST_CASE("reductions of non-contiguous inputs, inner and outer dims") {
  std::mt19937 rng(17);
  for (DType dtype : kFloating) {
    Tensor base = random_tensor({6, 5, 8}, dtype, rng);
    Tensor permuted = base.permute({2, 0, 1});               // [8, 6, 5]
    Tensor narrowed = base.narrow(2, 1, 6).narrow(0, 2, 3);  // [3, 5, 6]
    Tensor expanded = random_tensor({5, 1}, dtype, rng).expand({4, 5, 3});
    for (Kind kind : kKinds) {
      for (const Tensor& t : {base, permuted, narrowed, expanded}) {
        check_against_naive(kind, t, {0}, false);
        check_against_naive(kind, t, {-1}, true);
        check_against_naive(kind, t, {0, 2}, false);
        check_against_naive(kind, t, {1}, false);
        check_against_naive(kind, t, {}, false);
      }
    }
  }
}

TEST_CASE("large reductions take the chunked and blocked parallel paths") {
  std::mt19937 rng(99);
  Tensor big = random_tensor({40, 3000}, DType::f64, rng);
  for (Kind kind : kKinds) {
    check_against_naive(kind, big, {1}, false);  // inner: 40 outputs of 3000
    check_against_naive(kind, big, {0}, false);  // outer: 3000 outputs of 40
  }
  // A full reduction of 120000 elements is split into chunks, so its order differs from the
  // naive loop's: compare with a tolerance.
  Shape shape;
  std::vector<double> want = naive_reduce(big, {}, Kind::sum, &shape, false);
  CHECK(ops::sum(big).item() == doctest::Approx(want[0]).epsilon(1e-12));
  std::vector<double> want_sq = naive_reduce(big, {}, Kind::sum_squares, &shape, false);
  CHECK(ops::sum_squares(big.to(DType::f32)).item() == doctest::Approx(want_sq[0]).epsilon(1e-7));
}

TEST_CASE("f32 sums accumulate in double") {
  // A float accumulator drifts to about 100958 here; a double one gives 100000.0015, which
  // rounds to 100000 in f32.
  Tensor tenth = Tensor::full({1000000}, 0.1, DType::f32);
  CHECK(ops::sum(tenth).item() == 100000.0);
  CHECK(ops::mean(tenth).item() == static_cast<double>(0.1f));
  Tensor rows = Tensor::full({1000, 1000}, 0.1, DType::f32);
  std::vector<float> col_sums = ops::sum(rows, {0}).to_vector<float>();
  CHECK(col_sums[0] == static_cast<float>(1000 * static_cast<double>(0.1f)));
  CHECK(col_sums[999] == col_sums[0]);
  Tensor bf = Tensor::full({100000}, 0.1, DType::bf16);
  CHECK(ops::sum(bf).item() ==
        round_to_bf16(static_cast<float>(100000 * double(to_float(to_bf16(0.1f))))));
}

TEST_CASE("reductions give the same bits with any number of threads") {
  std::mt19937 rng(5);
  Tensor x = random_tensor({64, 5000}, DType::f32, rng);
  auto compute = [&] {
    std::vector<std::vector<float>> r;
    r.push_back(ops::sum(x).to_vector<float>());
    r.push_back(ops::sum(x, {1}).to_vector<float>());
    r.push_back(ops::sum(x, {0}).to_vector<float>());
    r.push_back(ops::sum_squares(x.transpose(0, 1), {0}).to_vector<float>());
    r.push_back(ops::mean(x, {0}).to_vector<float>());
    return r;
  };
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = compute();
  omp_set_num_threads(3);
  auto three = compute();
  omp_set_num_threads(saved);
  CHECK(one == three);
}

TEST_CASE("integer sums give i64; amax keeps integer dtypes") {
  Tensor mask = Tensor::full({300}, 1, DType::u8);  // 300 does not fit in u8
  Tensor count = ops::sum(mask);
  CHECK(count.dtype() == DType::i64);
  CHECK(count.item() == 300);
  Tensor ids = Tensor::from_vector<int32_t>({3, -7, 12, 5, 0, -1}, {2, 3});
  CHECK(ops::sum(ids, {1}).to_vector<int64_t>() == std::vector<int64_t>{8, 4});
  Tensor mx = ops::amax(ids, {0});
  CHECK(mx.dtype() == DType::i32);
  CHECK(mx.to_vector<int32_t>() == std::vector<int32_t>{5, 0, 12});
  CHECK_THROWS_WITH_AS(ops::mean(ids), "mean: expected a floating dtype (f32, f64, bf16), got i32",
                       Error);
}

TEST_CASE("amax propagates NaN and handles infinities") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  Tensor a = Tensor::from_vector<double>({1, nan, 3, -inf, -inf, -inf}, {2, 3});
  std::vector<double> r = ops::amax(a, {1}).to_vector<double>();
  CHECK(std::isnan(r[0]));
  CHECK(r[1] == -inf);
  CHECK(std::isnan(ops::sum(a).item()));
}

TEST_CASE("empty reductions and errors") {
  Tensor empty = Tensor::zeros({0, 3});
  Tensor s = ops::sum(empty, {0});
  CHECK(s.shape() == Shape{3});
  CHECK(s.to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(std::isnan(ops::mean(empty, {0}).at({1})));  // 0 / 0, as torch
  CHECK(ops::sum(empty, {1}).shape() == Shape{0});
  CHECK_THROWS_WITH_AS(
      ops::amax(empty, {0}),
      "amax: reducing [0, 3] folds zero elements; the maximum of nothing is undefined", Error);
  Tensor t = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(ops::sum(t, {1, -1}), "sum: dimension -1 listed twice", Error);
  CHECK_THROWS_WITH_AS(ops::sum(t, {2}), "sum: dimension 2 out of range for a tensor of rank 2",
                       Error);
}

TEST_CASE("sum_to undoes broadcasting") {
  std::mt19937 rng(21);
  Tensor g = random_tensor({2, 3, 4}, DType::f64, rng);
  // [3, 1] was broadcast along dims 0 and 2.
  Tensor r = ops::sum_to(g, {3, 1});
  REQUIRE(r.shape() == Shape{3, 1});
  for (int64_t j = 0; j < 3; ++j) {
    double want = 0;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 4; ++k) want += g.at({i, j, k});
    CHECK(r.at({j, 0}) == doctest::Approx(want).epsilon(1e-14));
  }
  Tensor last = ops::sum_to(g, {4});
  REQUIRE(last.shape() == Shape{4});
  for (int64_t k = 0; k < 4; ++k) {
    double want = 0;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j) want += g.at({i, j, k});
    CHECK(last.at({k}) == doctest::Approx(want).epsilon(1e-14));
  }
  CHECK(ops::sum_to(g, {1, 3, 1}).shape() == Shape{1, 3, 1});
  CHECK(ops::sum_to(g, {}).item() == doctest::Approx(ops::sum(g).item()).epsilon(1e-14));
  CHECK(ops::sum_to(g, {2, 3, 4}).shares_storage(g));
  CHECK_THROWS_WITH_AS(ops::sum_to(g, {5}), "sum_to: shape [5] does not broadcast to [2, 3, 4]",
                       Error);
  CHECK_THROWS_WITH_AS(ops::sum_to(g, {1, 2, 3, 4}),
                       "sum_to: shape [1, 2, 3, 4] does not broadcast to [2, 3, 4]", Error);
}
