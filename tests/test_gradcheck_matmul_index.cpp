// Finite-difference gradient checks (f64) of matmul (every transpose combination, batches that
// broadcast, strided inputs) and of embedding, index_select and gather.
#include <doctest/doctest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/ops.h"

using namespace t5zero;
using namespace t5zero::autograd;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = normal(rng);
  return Tensor::from_vector(v, shape);
}

void check(const std::string& what, const GradcheckResult& r) {
  std::printf("gradcheck %-52s worst error %.3e  (%s)\n", what.c_str(), r.worst_error,
              r.where.c_str());
  CAPTURE(what);
  CAPTURE(r.where);
  CHECK(r.ok);
}

// [batch..., rows, cols], stored transposed when `transposed`.
Shape operand(Shape batch, int64_t rows, int64_t cols, bool transposed) {
  batch.push_back(transposed ? cols : rows);
  batch.push_back(transposed ? rows : cols);
  return batch;
}

std::string label(const char* what, bool ta, bool tb) {
  return std::string(what) + " ta=" + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0");
}

}  // namespace

TEST_CASE("gradcheck matmul: four transpose combinations, batched and broadcast") {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> size(1, 5);
  uint64_t seed = 100;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      auto fn = [ta, tb](const std::vector<Variable>& v) { return matmul(v[0], v[1], ta, tb); };
      const int64_t m = size(rng), k = size(rng), n = size(rng);
      check(label("matmul 2-D", ta, tb),
            gradcheck(fn, {random_tensor(operand({}, m, k, ta), seed++),
                           random_tensor(operand({}, k, n, tb), seed++)}));
      check(label("matmul batched [2,3]", ta, tb),
            gradcheck(fn, {random_tensor(operand({2, 3}, m, k, ta), seed++),
                           random_tensor(operand({2, 3}, k, n, tb), seed++)}));
      // A weight shared by every batch: its gradient is summed over the batch.
      check(label("matmul [2,3,..] x 2-D", ta, tb),
            gradcheck(fn, {random_tensor(operand({2, 3}, m, k, ta), seed++),
                           random_tensor(operand({}, k, n, tb), seed++)}));
      check(label("matmul 2-D x [3,..]", ta, tb),
            gradcheck(fn, {random_tensor(operand({}, m, k, ta), seed++),
                           random_tensor(operand({3}, k, n, tb), seed++)}));
      check(label("matmul [2,1,..] x [1,3,..]", ta, tb),
            gradcheck(fn, {random_tensor(operand({2, 1}, m, k, ta), seed++),
                           random_tensor(operand({1, 3}, k, n, tb), seed++)}));
    }
  }
}

TEST_CASE("gradcheck matmul on strided inputs") {
  auto plain = [](const std::vector<Variable>& v) { return matmul(v[0], v[1]); };
  // Column slices, transposed views, every-other-column views, permuted heads.
  check("matmul column slice x transposed",
        gradcheck(plain, {random_tensor({2, 4, 7}, 1).narrow(2, 1, 5),
                          random_tensor({3, 5}, 2).transpose(0, 1)}));
  check("matmul stepped columns x 2-D",
        gradcheck(plain, {random_tensor({3, 8}, 3).slice(1, 0, 8, 2), random_tensor({4, 2}, 4)}));
  Tensor heads = random_tensor({2, 3, 2, 4}, 5).permute({0, 2, 1, 3});  // [2, 2, 3, 4]
  check("matmul permuted heads, q kT",
        gradcheck([](const std::vector<Variable>& v) { return matmul(v[0], v[1], false, true); },
                  {heads, random_tensor({2, 2, 5, 4}, 6)}));
  // The same leaf on both sides: its gradients from both operands add up.
  check("matmul x xT (one input)",
        gradcheck([](const std::vector<Variable>& v) { return matmul(v[0], v[0], false, true); },
                  {random_tensor({3, 4}, 7)}));
}

TEST_CASE("gradcheck embedding, index_select, gather") {
  Tensor ids = Tensor::from_vector<int64_t>({2, 0, 2, 5, 1, 2}, {2, 3});
  check("embedding (repeated ids)",
        gradcheck([&](const std::vector<Variable>& v) { return embedding(v[0], ids); },
                  {random_tensor({6, 4}, 10)}));
  Tensor ids32 = Tensor::from_vector<int32_t>({3, 3, 3}, {3}, DType::i32);
  check("embedding (i32 ids, transposed weight)",
        gradcheck([&](const std::vector<Variable>& v) { return embedding(v[0], ids32); },
                  {random_tensor({3, 5}, 11).transpose(0, 1)}));
  Tensor index = Tensor::from_vector<int64_t>({1, 1, 0, 3}, {4});
  for (int64_t dim = 0; dim < 3; ++dim) {
    check("index_select dim " + std::to_string(dim),
          gradcheck([&](const std::vector<Variable>& v) { return index_select(v[0], dim, index); },
                    {random_tensor({4, 4, 4}, 12 + dim)}));
  }
  check("index_select (transposed input)",
        gradcheck([&](const std::vector<Variable>& v) { return index_select(v[0], 1, index); },
                  {random_tensor({4, 3}, 15).transpose(0, 1)}));
  Tensor gidx = Tensor::from_vector<int64_t>({0, 0, 2, 1, 2, 2}, {2, 3});
  check("gather dim 1",
        gradcheck([&](const std::vector<Variable>& v) { return gather(v[0], 1, gidx); },
                  {random_tensor({3, 4}, 16)}));
  check("gather dim 0",
        gradcheck([&](const std::vector<Variable>& v) { return gather(v[0], 0, gidx); },
                  {random_tensor({3, 4}, 17)}));
  check("gather (transposed input)",
        gradcheck([&](const std::vector<Variable>& v) { return gather(v[0], 1, gidx); },
                  {random_tensor({4, 3}, 18).transpose(0, 1)}));
}

TEST_CASE("backward reads an input's data when it runs, not at forward time") {
  // Stands in for ZeRO-3: the weight's data is replaced (released and gathered again) between
  // forward and backward; the gradient of x must use the weight present at backward time.
  Tensor w0 = random_tensor({4, 3}, 20);
  Tensor w1 = random_tensor({4, 3}, 21);
  Variable x(random_tensor({2, 4}, 22), true);
  Variable w(w0, false);
  Variable y = matmul(x, w);
  w.state()->data = w1;
  sum(y).backward();
  // d sum(x·w) / dx = ones · wᵀ with the current w.
  Tensor expected = ops::matmul(Tensor::ones({2, 3}, DType::f64), w1, false, true);
  CHECK(x.grad().to_vector<double>() == expected.to_vector<double>());
}
