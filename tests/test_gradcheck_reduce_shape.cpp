// Every differentiable reduction and shape op against central differences in f64, on contiguous
// and non-contiguous inputs, plus amax's tie rule, which finite differences cannot see.
#include <doctest/doctest.h>

#include <random>
#include <sstream>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/ops.h"

using namespace t5zero;
using namespace t5zero::autograd;

namespace {

using Fn = std::function<Variable(const std::vector<Variable>&)>;

Tensor uniform(const Shape& shape, uint32_t seed, double lo = -2, double hi = 2) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return Tensor::from_vector(v, shape);
}

void check_grad(const std::string& what, const Fn& fn, const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(fn, inputs);
  std::ostringstream report;
  report << what << ": worst error " << r.worst_error << " (" << r.where << ")";
  MESSAGE(report.str());
  CHECK(r.ok);
}

using Reduction = Variable (*)(const Variable&, const std::vector<int64_t>&, bool);

// A reduction over several dim sets, with and without keepdim, on a [3, 4, 5] tensor and on a
// permuted view of it.
void check_reduction(const std::string& name, Reduction op) {
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {-1}, {1}, {0, 2}};
  for (const std::vector<int64_t>& dims : dim_sets) {
    for (bool keepdim : {false, true}) {
      std::ostringstream what;
      what << name << " over " << shape_str(Shape(dims.begin(), dims.end()))
           << (keepdim ? " keepdim" : "");
      check_grad(what.str(),
                 [=](const std::vector<Variable>& v) { return op(v[0], dims, keepdim); },
                 {uniform({3, 4, 5}, 1)});
      check_grad(what.str() + ", permuted input",
                 [=](const std::vector<Variable>& v) {
                   return op(permute(v[0], {2, 0, 1}), dims, keepdim);
                 },
                 {uniform({3, 4, 5}, 2)});
    }
  }
}

}  // namespace

TEST_CASE("gradcheck: sum, mean, amax, sum_squares") {
  check_reduction("sum", sum);
  check_reduction("mean", mean);
  check_reduction("amax", amax);  // random inputs have no ties
  check_reduction("sum_squares", sum_squares);
}

TEST_CASE("amax splits the gradient evenly among tied maxima") {
  Variable x(Tensor::from_vector<double>({1, 3, 3, 2, 5, 5, 5, 0}, {2, 4}), true);
  Variable m = amax(x, {1});
  CHECK(m.data().to_vector<double>() == std::vector<double>{3, 5});
  m.backward(Tensor::from_vector<double>({1, 6}, {2}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0.5, 0.5, 0, 2, 2, 2, 0});
  Variable y(Tensor::from_vector<double>({4, 4, 4, 4}, {4}), true);
  amax(y).backward();
  CHECK(y.grad().to_vector<double>() == std::vector<double>{0.25, 0.25, 0.25, 0.25});
}

TEST_CASE("reduction gradients have the input's shape and broadcast the output gradient") {
  Variable x(Tensor::zeros({2, 3}, DType::f64), true);
  mean(x, {1}, true).backward(Tensor::from_vector<double>({3, 6}, {2, 1}));
  CHECK(x.grad().shape() == Shape{2, 3});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1, 1, 2, 2, 2});
  CHECK(x.grad().is_contiguous());
}

TEST_CASE("gradcheck: reshape, transpose, permute, narrow, expand, contiguous") {
  check_grad("reshape",
             [](const std::vector<Variable>& v) {
               return reshape(v[0], {4, -1});
             },
             {uniform({2, 3, 2}, 11)});
  check_grad("reshape of a transposed view (copies)",
             [](const std::vector<Variable>& v) {
               return reshape(transpose(v[0], 0, 2), {6, 2});
             },
             {uniform({2, 3, 2}, 12)});
  check_grad("transpose",
             [](const std::vector<Variable>& v) { return mul(transpose(v[0], 0, 1), v[1]); },
             {uniform({3, 4}, 13), uniform({4, 3}, 14)});
  check_grad("permute",
             [](const std::vector<Variable>& v) {
               return permute(v[0], {1, 2, 0});
             },
             {uniform({2, 3, 4}, 15)});
  check_grad("permute then sum over one dim",
             [](const std::vector<Variable>& v) {
               return sum(permute(v[0], {2, 0, 1}), {1});
             },
             {uniform({2, 3, 4}, 16)});
  check_grad("narrow", [](const std::vector<Variable>& v) { return narrow(v[0], 1, 1, 2); },
             {uniform({3, 5}, 17)});
  check_grad("narrow of a narrow",
             [](const std::vector<Variable>& v) { return narrow(narrow(v[0], 0, 1, 3), -1, 2, 3); },
             {uniform({4, 6}, 18)});
  check_grad("expand [3, 1] to [2, 3, 4]",
             [](const std::vector<Variable>& v) {
               return expand(v[0], {2, 3, 4});
             },
             {uniform({3, 1}, 19)});
  check_grad("expand of a transposed view",
             [](const std::vector<Variable>& v) {
               return expand(transpose(v[0], 0, 1), {2, 3, 4});
             },
             {uniform({1, 3}, 20)});
  check_grad("contiguous",
             [](const std::vector<Variable>& v) { return contiguous(transpose(v[0], 0, 1)); },
             {uniform({3, 4}, 21)});
}

TEST_CASE("gradcheck: concat and stack") {
  check_grad("concat along dim 1",
             [](const std::vector<Variable>& v) {
               return concat({v[0], transpose(v[1], 0, 1), v[2]}, 1);
             },
             {uniform({2, 3}, 31), uniform({1, 2}, 32), uniform({2, 4}, 33)});
  check_grad("concat along dim 0, same input twice",
             [](const std::vector<Variable>& v) {
               return concat({v[0], v[0]}, 0);
             },
             {uniform({2, 3}, 34)});
  check_grad("stack along dim 0",
             [](const std::vector<Variable>& v) {
               return stack({v[0], v[1]}, 0);
             },
             {uniform({2, 3}, 35), uniform({2, 3}, 36)});
  check_grad("stack along the last dim of non-contiguous parts",
             [](const std::vector<Variable>& v) {
               return stack({transpose(v[0], 0, 1), narrow(v[1], 0, 1, 3), v[2]}, -1);
             },
             {uniform({4, 3}, 37), uniform({5, 4}, 38), uniform({3, 4}, 39)});
}

TEST_CASE("shape ops return views in forward") {
  Variable x(Tensor::zeros({2, 3}, DType::f64), true);
  CHECK(transpose(x, 0, 1).data().shares_storage(x.data()));
  CHECK(permute(x, {1, 0}).data().shares_storage(x.data()));
  CHECK(narrow(x, 1, 0, 2).data().shares_storage(x.data()));
  CHECK(expand(x, {4, 2, 3}).data().shares_storage(x.data()));
  CHECK(reshape(x, {3, 2}).data().shares_storage(x.data()));
  CHECK_FALSE(reshape(transpose(x, 0, 1), {6}).data().shares_storage(x.data()));
}
