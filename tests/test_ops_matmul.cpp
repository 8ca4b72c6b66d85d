// ops::matmul against a naive triple loop in f64: every transpose combination, batches with
// broadcasting, strided inputs BLAS reads in place and ones it must copy, bf16 rounding.
#include <doctest/doctest.h>

#include <cmath>
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

// Element of a row-major vector of `shape` at a multi-index whose leading entries may exceed the
// (broadcast, size-1) dims of `shape`.
double element(const std::vector<double>& data, const Shape& shape,
               const std::vector<int64_t>& index) {
  int64_t offset = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    int64_t i = index[index.size() - shape.size() + d];
    offset = offset * shape[d] + (shape[d] == 1 ? 0 : i);
  }
  return data[static_cast<size_t>(offset)];
}

struct Reference {
  Shape shape;
  std::vector<double> values;
  std::vector<double> magnitude;  // Σ|a·b| per element, to scale the tolerance
};

// The product by definition, in f64, reading the inputs as given (any strides, any dtype).
Reference naive_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  const int64_t m = ta ? a.size(-1) : a.size(-2), k = ta ? a.size(-2) : a.size(-1);
  const int64_t n = tb ? b.size(-2) : b.size(-1);
  Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                 Shape(b.shape().begin(), b.shape().end() - 2));
  Reference ref;
  ref.shape = batch;
  ref.shape.push_back(m);
  ref.shape.push_back(n);
  const int64_t batches = shape_numel(batch);
  for (int64_t bi = 0; bi < batches; ++bi) {
    std::vector<int64_t> index(batch.size() + 2, 0);
    int64_t rest = bi;
    for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
      index[d] = rest % batch[d];
      rest /= batch[d];
    }
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0, mag = 0;
        for (int64_t p = 0; p < k; ++p) {
          std::vector<int64_t> ia = index, ib = index;
          ia[batch.size()] = ta ? p : i;
          ia[batch.size() + 1] = ta ? i : p;
          ib[batch.size()] = tb ? j : p;
          ib[batch.size() + 1] = tb ? p : j;
          const double prod = element(av, a.shape(), ia) * element(bv, b.shape(), ib);
          sum += prod;
          mag += std::fabs(prod);
        }
        ref.values.push_back(sum);
        ref.magnitude.push_back(mag);
      }
    }
  }
  return ref;
}

// ops::matmul equals the naive product within `rel` of each element's Σ|a·b|.
void check_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, double rel) {
  CAPTURE(shape_str(a.shape()));
  CAPTURE(shape_str(b.shape()));
  CAPTURE(ta);
  CAPTURE(tb);
  Tensor out = ops::matmul(a, b, ta, tb);
  Reference ref = naive_matmul(a, b, ta, tb);
  REQUIRE(out.shape() == ref.shape);
  REQUIRE(out.dtype() == a.dtype());
  REQUIRE(out.is_contiguous());
  std::vector<double> got = out.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::fabs(got[i] - ref.values[i]) / std::max(ref.magnitude[i], 1e-300));
  }
  CHECK(worst <= rel);
}

// [rows, cols] operand of a logical product, stored transposed when `transposed`.
Shape operand_shape(Shape batch, int64_t rows, int64_t cols, bool transposed) {
  batch.push_back(transposed ? cols : rows);
  batch.push_back(transposed ? rows : cols);
  return batch;
}

}  // namespace

TEST_CASE("matmul: all four transpose combinations, f64 and f32") {
  const int64_t m = 7, k = 5, n = 6;
  for (DType dtype : {DType::f64, DType::f32}) {
    const double rel = dtype == DType::f64 ? 1e-14 : 1e-6;
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        Tensor a = random_tensor(operand_shape({}, m, k, ta), dtype, 1);
        Tensor b = random_tensor(operand_shape({}, k, n, tb), dtype, 2);
        check_matmul(a, b, ta, tb, rel);
      }
    }
  }
}

TEST_CASE("matmul: batches, and batch dims that broadcast") {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      // A linear layer: 2-D weight shared by every batch (rows fold into one GEMM when ta = false).
      check_matmul(random_tensor(operand_shape({2, 3}, 4, 5, ta), DType::f64, 3),
                   random_tensor(operand_shape({}, 5, 6, tb), DType::f64, 4), ta, tb, 1e-14);
      // Attention-style batched product.
      check_matmul(random_tensor(operand_shape({2, 3}, 4, 5, ta), DType::f64, 5),
                   random_tensor(operand_shape({2, 3}, 5, 6, tb), DType::f64, 6), ta, tb, 1e-14);
      // Both sides broadcast: [2, 1] with [1, 3], and a 2-D a against a batched b.
      check_matmul(random_tensor(operand_shape({2, 1}, 4, 5, ta), DType::f64, 7),
                   random_tensor(operand_shape({1, 3}, 5, 6, tb), DType::f64, 8), ta, tb, 1e-14);
      check_matmul(random_tensor(operand_shape({}, 4, 5, ta), DType::f64, 9),
                   random_tensor(operand_shape({3}, 5, 6, tb), DType::f64, 10), ta, tb, 1e-14);
    }
  }
  // Many small GEMMs (spread over threads) and a few large ones (threaded inside BLAS).
  check_matmul(random_tensor({520, 8, 8}, DType::f32, 11),
               random_tensor({520, 8, 8}, DType::f32, 12), false, false, 1e-6);
  check_matmul(random_tensor({2, 80, 70}, DType::f32, 13),
               random_tensor({2, 60, 70}, DType::f32, 14), false, true, 1e-6);
}

TEST_CASE("matmul: strided inputs, read in place or copied") {
  Tensor big = random_tensor({6, 9, 10}, DType::f64, 20);
  // Row stride larger than the row (a column slice): BLAS reads it with lda = 10.
  Tensor cols = big.narrow(2, 1, 7);  // [6, 9, 7]
  check_matmul(cols, random_tensor({7, 4}, DType::f64, 21), false, false, 1e-14);
  // A transposed view of contiguous storage: read as the transpose.
  Tensor t = big.transpose(1, 2);  // [6, 10, 9], unit stride along rows
  check_matmul(t, random_tensor({9, 3}, DType::f64, 22), false, false, 1e-14);
  check_matmul(random_tensor({5, 10}, DType::f64, 23), t, false, false, 1e-14);
  // Every other column: no unit stride in either dim, copied first.
  Tensor stepped = big.slice(2, 0, 10, 2);  // [6, 9, 5]
  check_matmul(stepped, random_tensor({5, 4}, DType::f64, 24), false, false, 1e-14);
  check_matmul(random_tensor({3, 9}, DType::f64, 25), stepped.select(0, 2), false, false, 1e-14);
  // A permuted batch layout ([batch, head] swapped, as heads split from [B, L, H, D]).
  Tensor heads = random_tensor({2, 5, 3, 4}, DType::f64, 26).permute({0, 2, 1, 3});  // [2, 3, 5, 4]
  check_matmul(heads, heads, false, true, 1e-14);
  // Expanded batches (stride 0) on both operands.
  Tensor shared = random_tensor({1, 4, 5}, DType::f64, 27).expand({3, 4, 5});
  check_matmul(shared, random_tensor({3, 5, 2}, DType::f64, 28), false, false, 1e-14);
  // A broadcast inside the matrix (a row repeated): stride 0 in the last two dims.
  Tensor repeated_rows = random_tensor({1, 5}, DType::f64, 29).expand({4, 5});
  check_matmul(repeated_rows, random_tensor({5, 3}, DType::f64, 30), false, false, 1e-14);
  // Vectors as matrices: one row, one column.
  check_matmul(random_tensor({1, 5}, DType::f64, 31), random_tensor({5, 1}, DType::f64, 32), false,
               false, 1e-14);
  check_matmul(random_tensor({5, 1}, DType::f64, 33), random_tensor({1, 5}, DType::f64, 34), false,
               false, 1e-14);
}

TEST_CASE("matmul: bf16 is the f32 product of the same values, rounded once") {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      Tensor a = random_tensor(operand_shape({3}, 9, 17, ta), DType::bf16, 40);
      Tensor b = random_tensor(operand_shape({}, 17, 11, tb), DType::bf16, 41);
      Tensor out = ops::matmul(a, b, ta, tb);
      REQUIRE(out.dtype() == DType::bf16);
      Tensor expected = ops::matmul(a.to(DType::f32), b.to(DType::f32), ta, tb);
      std::vector<double> got = out.to_vector<double>();
      std::vector<float> want = expected.to_vector<float>();
      REQUIRE(got.size() == want.size());
      int differ = 0;
      for (size_t i = 0; i < got.size(); ++i) differ += got[i] != round_to_bf16(want[i]);
      CHECK(differ == 0);
      // And the f32 product itself is right.
      check_matmul(a.to(DType::f32), b.to(DType::f32), ta, tb, 1e-6);
    }
  }
}

TEST_CASE("matmul: empty dims and errors") {
  Tensor zero_k = ops::matmul(Tensor::zeros({3, 0}), Tensor::zeros({0, 4}));
  CHECK(zero_k.shape() == Shape{3, 4});
  CHECK(ops::sum(zero_k).item() == 0.0);
  Tensor filled = ops::matmul(Tensor::full({3, 0}, 1.0), Tensor::full({0, 4}, 1.0));
  CHECK(ops::amax(filled).item() == 0.0);
  CHECK(ops::matmul(Tensor::zeros({0, 5}), Tensor::zeros({5, 2})).shape() == Shape{0, 2});
  CHECK_THROWS_WITH(ops::matmul(Tensor::zeros({3, 4}), Tensor::zeros({5, 2})),
                    doctest::Contains("inner dimensions differ"));
  CHECK_THROWS_WITH(ops::matmul(Tensor::zeros({3, 4}), Tensor::zeros({4, 2}, DType::f64)),
                    doctest::Contains("dtypes differ: f32 and f64"));
  CHECK_THROWS_WITH(ops::matmul(Tensor::zeros({4}), Tensor::zeros({4, 2})),
                    doctest::Contains("at least 2 dims"));
  CHECK_THROWS_WITH(ops::matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 2})),
                    doctest::Contains("broadcast"));
  CHECK_THROWS_WITH(
      ops::matmul(Tensor::zeros({2, 2}, DType::i32), Tensor::zeros({2, 2}, DType::i32)),
      doctest::Contains("floating"));
}
