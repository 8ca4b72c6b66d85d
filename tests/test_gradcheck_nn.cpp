// Finite-difference gradient checks (f64) of softmax, log_softmax, cross_entropy, rms_norm and
// dropout, on random shapes and on non-contiguous inputs.
#include <doctest/doctest.h>

#include <cstdio>
#include <random>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"

using namespace t5zero;
using namespace t5zero::autograd;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = normal(rng);
  return Tensor::from_vector(v, shape);
}

// A random shape of `rank` dims, each in [2, 5] (a row of one has a zero softmax gradient).
Shape random_shape(std::mt19937_64& rng, int rank) {
  std::uniform_int_distribution<int64_t> size(2, 5);
  Shape s;
  for (int i = 0; i < rank; ++i) s.push_back(size(rng));
  return s;
}

void check(const char* what, const GradcheckResult& r) {
  std::printf("gradcheck %-44s worst error %.3e  (%s)\n", what, r.worst_error, r.where.c_str());
  CAPTURE(what);
  CAPTURE(r.where);
  CHECK(r.ok);
}

using Fn = std::function<Variable(const std::vector<Variable>&)>;

}  // namespace

TEST_CASE("gradcheck softmax and log_softmax") {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 3; ++trial) {
    Tensor x = random_tensor(random_shape(rng, 1 + trial), 10 + trial, 2.0);
    check("softmax", gradcheck([](const std::vector<Variable>& v) { return softmax(v[0]); }, {x}));
    check("log_softmax",
          gradcheck([](const std::vector<Variable>& v) { return log_softmax(v[0]); }, {x}));
  }
  // Rows strided in memory: a transposed input.
  Tensor xt = random_tensor({6, 4}, 20).transpose(0, 1);
  check("softmax (transposed input)",
        gradcheck([](const std::vector<Variable>& v) { return softmax(v[0]); }, {xt}));
  check("log_softmax (transposed input)",
        gradcheck([](const std::vector<Variable>& v) { return log_softmax(v[0]); }, {xt}));
}

TEST_CASE("gradcheck cross_entropy, with ignored targets") {
  Tensor logits = random_tensor({6, 7}, 30, 2.0);
  Tensor targets = Tensor::from_vector<int64_t>({3, -100, 0, 6, -100, 2}, {6});
  check("cross_entropy",
        gradcheck([&](const std::vector<Variable>& v) { return cross_entropy(v[0], targets); },
                  {logits}));
  Tensor targets32 = Tensor::from_vector<int32_t>({1, 1, 5, 0}, {4}, DType::i32);
  Tensor logits_t = random_tensor({7, 4}, 31).transpose(0, 1);  // [4, 7], strided rows
  check("cross_entropy (i32 targets, strided logits)",
        gradcheck([&](const std::vector<Variable>& v) { return cross_entropy(v[0], targets32); },
                  {logits_t}));
  // Composed: the loss of a softmax-normalised input exercises a non-trivial upstream gradient.
  check("cross_entropy(log_softmax(x) * 3)", gradcheck(
                                                 [&](const std::vector<Variable>& v) {
                                                   return cross_entropy(
                                                       mul_scalar(log_softmax(v[0]), 3.0), targets);
                                                 },
                                                 {logits}));
}

TEST_CASE("gradcheck rms_norm in x and weight") {
  std::mt19937_64 rng(2);
  for (int trial = 0; trial < 3; ++trial) {
    Shape shape = random_shape(rng, 1 + trial);
    Tensor x = random_tensor(shape, 40 + trial);
    Tensor w = random_tensor({shape.back()}, 50 + trial);
    check("rms_norm",
          gradcheck([](const std::vector<Variable>& v) { return rms_norm(v[0], v[1], 1e-6); },
                    {x, w}));
  }
  // Strided x (rows are columns of the storage) and a strided weight (every other element).
  Tensor xt = random_tensor({5, 3}, 60).transpose(0, 1);
  Tensor w = random_tensor({10}, 61).slice(0, 0, 10, 2);
  check("rms_norm (strided x and weight)",
        gradcheck([](const std::vector<Variable>& v) { return rms_norm(v[0], v[1], 1e-6); },
                  {xt, w}));
  // Large eps changes the statistic's weight in the gradient.
  check("rms_norm (eps 0.5)",
        gradcheck([](const std::vector<Variable>& v) { return rms_norm(v[0], v[1], 0.5); },
                  {random_tensor({2, 4}, 62), random_tensor({4}, 63)}));
}

TEST_CASE("gradcheck dropout (a fixed mask) and its use inside a graph") {
  Tensor x = random_tensor({4, 9}, 70);
  check("dropout p=0.3",
        gradcheck([](const std::vector<Variable>& v) { return dropout(v[0], 0.3, 99, 17); }, {x}));
  check("dropout p=0.3 (transposed input)",
        gradcheck([](const std::vector<Variable>& v) { return dropout(v[0], 0.3, 99, 17); },
                  {random_tensor({9, 4}, 71).transpose(0, 1)}));
  check("softmax(dropout(x))",
        gradcheck([](const std::vector<Variable>& v) { return softmax(dropout(v[0], 0.5, 3, 0)); },
                  {x}));
  // The backward really applies the mask: with p = 1 nothing flows back.
  Variable leaf(x, true);
  sum(dropout(leaf, 1.0, 1, 0)).backward();
  CHECK(leaf.grad().to_vector<double>() == std::vector<double>(36, 0.0));
}
