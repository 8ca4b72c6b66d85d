// Indexing ops against naive loops: embedding and its deterministic backward, index_select and
// index_add, gather and scatter_add (torch semantics), concat, stack and arange.
#include <doctest/doctest.h>
#include <omp.h>

#include <random>
#include <vector>

#include "tensor/ops.h"

using namespace t5zero;

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = uniform(rng);
  return Tensor::from_vector(v, shape, dtype);
}

Tensor random_ids(const Shape& shape, int64_t limit, uint64_t seed, DType dtype = DType::i64) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, limit - 1);
  std::vector<int64_t> v(static_cast<size_t>(shape_numel(shape)));
  for (int64_t& x : v) x = pick(rng);
  return Tensor::from_vector(v, shape, dtype);
}

}  // namespace

TEST_CASE("embedding picks weight rows for ids of any shape, i32 or i64") {
  Tensor weight = random_tensor({10, 4}, DType::f32, 1);
  for (DType id_dtype : {DType::i64, DType::i32}) {
    Tensor ids = Tensor::from_vector<int64_t>({3, 0, 9, 3, 7, 1}, {2, 3}, id_dtype);
    Tensor out = ops::embedding(weight, ids);
    REQUIRE(out.shape() == Shape{2, 3, 4});
    REQUIRE(out.dtype() == DType::f32);
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < 3; ++j) {
        const int64_t id = static_cast<int64_t>(ids.at({i, j}));
        for (int64_t d = 0; d < 4; ++d) CHECK(out.at({i, j, d}) == weight.at({id, d}));
      }
    }
  }
  // A strided (transposed) weight reads the same rows.
  Tensor wt = random_tensor({4, 10}, DType::f64, 2).transpose(0, 1);
  Tensor out = ops::embedding(wt, Tensor::from_vector<int64_t>({5}, {1}));
  for (int64_t d = 0; d < 4; ++d) CHECK(out.at({0, d}) == wt.at({5, d}));
}

TEST_CASE("embedding: an id outside [0, rows) names the id and the row count") {
  Tensor weight = Tensor::zeros({6, 2});
  CHECK_THROWS_WITH(ops::embedding(weight, Tensor::from_vector<int64_t>({1, 6}, {2})),
                    "embedding: id 6 at position 1 is outside [0, 6) (the weight's rows)");
  CHECK_THROWS_WITH(ops::embedding(weight, Tensor::from_vector<int32_t>({-1}, {1})),
                    doctest::Contains("id -1 at position 0 is outside [0, 6)"));
  CHECK_THROWS_WITH(ops::embedding(weight, Tensor::zeros({1}, DType::f32)),
                    doctest::Contains("id must be i32 or i64"));
}

TEST_CASE("embedding_backward sums gradient rows per id, the same on any thread count") {
  const int64_t rows = 50, width = 33;
  Tensor ids = random_ids({40, 30}, rows, 3);  // many repeats per row
  Tensor grad = random_tensor({40, 30, width}, DType::f32, 4);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Tensor one = ops::embedding_backward(grad, ids, rows);
  omp_set_num_threads(std::max(threads, 3));
  Tensor many = ops::embedding_backward(grad, ids, rows);
  omp_set_num_threads(threads);
  REQUIRE(one.shape() == Shape{rows, width});
  CHECK(one.to_vector<float>() == many.to_vector<float>());
  // Against a naive accumulation in double.
  std::vector<double> expected(static_cast<size_t>(rows * width), 0.0);
  std::vector<int64_t> id = ids.to_vector<int64_t>();
  std::vector<double> g = grad.to_vector<double>();
  for (size_t p = 0; p < id.size(); ++p) {
    for (int64_t d = 0; d < width; ++d) expected[id[p] * width + d] += g[p * width + d];
  }
  std::vector<double> got = one.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - expected[i]));
  CHECK(worst <= 1e-5);
  // Rows no id refers to stay zero.
  Tensor sparse =
      ops::embedding_backward(Tensor::ones({1, 2}), Tensor::from_vector<int64_t>({2}, {1}), 4);
  CHECK(sparse.to_vector<double>() == std::vector<double>{0, 0, 0, 0, 1, 1, 0, 0});
}

TEST_CASE("index_select and index_add along every dim") {
  Tensor a = random_tensor({3, 4, 5}, DType::f64, 5);
  Tensor index = Tensor::from_vector<int64_t>({2, 0, 2}, {3});
  for (int64_t dim = 0; dim < 3; ++dim) {
    CAPTURE(dim);
    Tensor out = ops::index_select(a, dim, index);
    Shape expected_shape = a.shape();
    expected_shape[dim] = 3;
    REQUIRE(out.shape() == expected_shape);
    for (int64_t i = 0; i < expected_shape[0]; ++i) {
      for (int64_t j = 0; j < expected_shape[1]; ++j) {
        for (int64_t k = 0; k < expected_shape[2]; ++k) {
          std::vector<int64_t> at = {i, j, k};
          std::vector<int64_t> src = at;
          src[dim] = static_cast<int64_t>(index.at({at[dim]}));
          CHECK(out.at(at) == a.at(src));
        }
      }
    }
    // index_add: the adjoint of index_select, <index_select(a), g> = <a, index_add(g)>.
    Tensor g = random_tensor(expected_shape, DType::f64, 6);
    Tensor back = ops::index_add(a.shape(), dim, index, g);
    REQUIRE(back.shape() == a.shape());
    const double lhs = ops::sum(ops::mul(out, g)).item();
    const double rhs = ops::sum(ops::mul(a, back)).item();
    CHECK(lhs == doctest::Approx(rhs).epsilon(1e-12));
    // Index 1 is never selected: its slice gets nothing.
    CHECK(ops::amax(ops::mul(back.select(dim, 1), back.select(dim, 1))).item() == 0.0);
  }
  CHECK_THROWS_WITH(ops::index_select(a, 1, Tensor::from_vector<int64_t>({4}, {1})),
                    doctest::Contains("index 4 at position 0 is outside [0, 4)"));
  CHECK_THROWS_WITH(ops::index_add({3, 4}, 0, index, Tensor::zeros({2, 4}, DType::f64)),
                    doctest::Contains("src must be [3, 4], got [2, 4]"));
}

TEST_CASE("gather and scatter_add follow torch: out[i][j] = a[i][index[i][j]] along dim") {
  Tensor a = random_tensor({3, 5}, DType::f64, 7);
  Tensor index = Tensor::from_vector<int64_t>({4, 4, 0, 1, 1, 2}, {3, 2});
  Tensor out = ops::gather(a, 1, index);
  REQUIRE(out.shape() == Shape{3, 2});
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 2; ++j) {
      CHECK(out.at({i, j}) == a.at({i, static_cast<int64_t>(index.at({i, j}))}));
    }
  }
  // dim 0 with an index smaller than the input in the other dim.
  Tensor index0 = Tensor::from_vector<int32_t>({2, 0, 1, 2}, {2, 2}, DType::i32);
  Tensor out0 = ops::gather(a, 0, index0);
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 2; ++j) {
      CHECK(out0.at({i, j}) == a.at({static_cast<int64_t>(index0.at({i, j})), j}));
    }
  }
  // A non-contiguous input.
  Tensor at = random_tensor({5, 3}, DType::f64, 8).transpose(0, 1);
  Tensor outt = ops::gather(at, 1, index);
  CHECK(outt.at({2, 1}) == at.at({2, 2}));

  // scatter_add: repeated indices add up; it is gather's adjoint.
  Tensor g = random_tensor({3, 2}, DType::f64, 9);
  Tensor back = ops::scatter_add({3, 5}, 1, index, g);
  CHECK(back.at({0, 4}) == doctest::Approx(g.at({0, 0}) + g.at({0, 1})));
  CHECK(back.at({2, 1}) == g.at({2, 0}));
  CHECK(back.at({2, 2}) == g.at({2, 1}));
  CHECK(back.at({1, 3}) == 0.0);
  CHECK(ops::sum(ops::mul(out, g)).item() ==
        doctest::Approx(ops::sum(ops::mul(a, back)).item()).epsilon(1e-12));
  Tensor g0 = random_tensor({2, 2}, DType::f64, 10);
  Tensor back0 = ops::scatter_add({3, 5}, 0, index0, g0);
  CHECK(ops::sum(ops::mul(out0, g0)).item() ==
        doctest::Approx(ops::sum(ops::mul(a, back0)).item()).epsilon(1e-12));
  // src larger than the index: only the index-shaped part contributes, as in torch.
  Tensor big_src = Tensor::ones({3, 4}, DType::f64);
  CHECK(ops::sum(ops::scatter_add({3, 5}, 1, index, big_src)).item() == 6.0);

  CHECK_THROWS_WITH(ops::gather(a, 1, Tensor::from_vector<int64_t>({5}, {1, 1})),
                    doctest::Contains("index 5 at position 0 is outside [0, 5)"));
  CHECK_THROWS_WITH(ops::gather(a, 1, Tensor::zeros({4, 1}, DType::i64)),
                    doctest::Contains("larger than input [3, 5] in dim 0"));
  CHECK_THROWS_WITH(ops::gather(a, 1, Tensor::zeros({3}, DType::i64)),
                    doctest::Contains("differ in rank"));
}

TEST_CASE("concat and stack") {
  Tensor a = random_tensor({2, 3}, DType::f32, 11);
  Tensor b = random_tensor({2, 1}, DType::f32, 12);
  Tensor c = random_tensor({4, 2}, DType::f32, 13).transpose(0, 1);  // [2, 4], strided
  Tensor cat = ops::concat({a, b, c}, 1);
  REQUIRE(cat.shape() == Shape{2, 8});
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) CHECK(cat.at({i, j}) == a.at({i, j}));
    CHECK(cat.at({i, 3}) == b.at({i, 0}));
    for (int64_t j = 0; j < 4; ++j) CHECK(cat.at({i, 4 + j}) == c.at({i, j}));
  }
  Tensor rows = ops::concat({a, a}, -2);
  REQUIRE(rows.shape() == Shape{4, 3});
  CHECK(rows.at({3, 2}) == a.at({1, 2}));

  Tensor s = ops::stack({a, a.transpose(0, 1).transpose(0, 1), ops::add_scalar(a, 1)}, 1);
  REQUIRE(s.shape() == Shape{2, 3, 3});
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      CHECK(s.at({i, 0, j}) == a.at({i, j}));
      CHECK(s.at({i, 2, j}) == doctest::Approx(a.at({i, j}) + 1));
    }
  }
  CHECK(ops::stack({a, a}, -1).shape() == Shape{2, 3, 2});
  CHECK_THROWS_WITH(ops::concat({a, b}, 0), doctest::Contains("only dim 0 may differ"));
  CHECK_THROWS_WITH(ops::concat({a, a.to(DType::f64)}, 0), doctest::Contains("tensor 1 is f64"));
  CHECK_THROWS_WITH(ops::stack({a, b}, 0), doctest::Contains("tensor 1 has shape [2, 1]"));
  CHECK_THROWS_WITH(ops::concat({}, 0), doctest::Contains("no tensors"));
}

TEST_CASE("arange: counts like Python's range") {
  CHECK(ops::arange(0, 5).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(ops::arange(2, 9, 3).to_vector<int64_t>() == std::vector<int64_t>{2, 5, 8});
  CHECK(ops::arange(5, 0, -2).to_vector<int64_t>() == std::vector<int64_t>{5, 3, 1});
  CHECK(ops::arange(3, 3).numel() == 0);
  CHECK(ops::arange(4, 1).numel() == 0);
  Tensor f = ops::arange(-2, 2, 1, DType::f32);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.to_vector<float>() == std::vector<float>{-2, -1, 0, 1});
  CHECK_THROWS_WITH(ops::arange(0, 3, 0), doctest::Contains("step must not be 0"));
}
