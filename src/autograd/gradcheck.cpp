#include "autograd/gradcheck.h"

#include <cmath>
#include <random>
#include <sstream>

#include "tensor/ops.h"

namespace t5zero::autograd {

namespace {
// sum(output · weights) as a double, without recording a graph.
double weighted_sum(const Tensor& output, const Tensor& weights) {
  return ops::sum(ops::mul(output.to(DType::f64), weights)).item();
}
}  // namespace

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double tolerance) {
  std::vector<Variable> leaves;
  for (const Tensor& t : inputs) {
    T5_CHECK(t.dtype() == DType::f64, "gradcheck: inputs must be f64, got ", dtype_name(t.dtype()));
    leaves.emplace_back(t, true);
  }
  Variable out = fn(leaves);
  std::mt19937_64 rng(1234);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<double> w(static_cast<size_t>(out.data().numel()));
  for (double& x : w) x = uniform(rng);
  Tensor weights = Tensor::from_vector(w, out.shape());
  out.backward(weights.to(out.dtype()));

  GradcheckResult result;
  result.ok = true;
  for (size_t i = 0; i < inputs.size(); ++i) {
    // Perturb a private contiguous copy element by element; views of it are what fn sees.
    Tensor probe = inputs[i].clone();
    double* p = probe.data<double>();
    Tensor analytic = leaves[i].grad().defined() ? leaves[i].grad().to(DType::f64).contiguous()
                                                 : Tensor::zeros(inputs[i].shape(), DType::f64);
    const double* a = analytic.data<double>();
    for (int64_t e = 0; e < probe.numel(); ++e) {
      auto evaluate = [&](double value) {
        p[e] = value;
        std::vector<Variable> args;
        for (size_t j = 0; j < inputs.size(); ++j) args.emplace_back(j == i ? probe : inputs[j]);
        NoGradGuard no_grad;
        return weighted_sum(fn(args).data(), weights);
      };
      double original = p[e];
      double numeric = (evaluate(original + eps) - evaluate(original - eps)) / (2 * eps);
      p[e] = original;
      double error = std::fabs(a[e] - numeric) / std::max(1.0, std::fabs(numeric));
      if (error > result.worst_error) {
        result.worst_error = error;
        std::ostringstream where;
        where << "input " << i << ", element " << e << ": analytic " << a[e] << ", numeric "
              << numeric;
        result.where = where.str();
      }
    }
  }
  result.ok = result.worst_error <= tolerance;
  return result;
}

}  // namespace t5zero::autograd
