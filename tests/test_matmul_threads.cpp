// ops::matmul split across the OpenMP team (tensor/cpu/matmul.cpp): slices of one GEMM's rows or
// columns, transposed operands, batches fewer and more than the threads — each against a naive
// f64 product, and the same bits on every run with the same thread count.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
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

// Largest |ours − naive| over the batched product, relative to Σ_k |a·b| of that element.
double worst_error(const Tensor& out, const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const Tensor la = (ta ? a.transpose(-2, -1) : a).contiguous().to(DType::f64);
  const Tensor lb = (tb ? b.transpose(-2, -1) : b).contiguous().to(DType::f64);
  const int64_t m = la.size(-2), k = la.size(-1), n = lb.size(-1);
  const int64_t batches = out.numel() / (m * n);
  const std::vector<double> av = la.to_vector<double>(), bv = lb.to_vector<double>();
  const std::vector<double> ov = out.to_vector<double>();
  // a may be one matrix shared by all batches (b's batch broadcast), and b likewise.
  const int64_t a_batch = la.numel() / (m * k) == 1 ? 0 : m * k;
  const int64_t b_batch = lb.numel() / (k * n) == 1 ? 0 : k * n;
  double worst = 0;
  for (int64_t bi = 0; bi < batches; ++bi) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0, magnitude = 0;
        for (int64_t p = 0; p < k; ++p) {
          const double term = av[bi * a_batch + i * k + p] * bv[bi * b_batch + p * n + j];
          sum += term;
          magnitude += std::fabs(term);
        }
        worst = std::max(worst, std::fabs(ov[(bi * m + i) * n + j] - sum) / magnitude);
      }
    }
  }
  return worst;
}

struct Case {
  const char* name;
  Shape a, b;
  bool ta, tb;
};

// Each large enough (over 2^21 multiply-adds) to be split across three threads.
const Case kCases[] = {
    {"linear layer, folded batch rows, split by rows", {2, 150, 128}, {90, 128}, false, true},
    {"wide product, split by columns", {40, 256}, {256, 300}, false, false},
    {"wide product with B stored transposed", {40, 256}, {300, 256}, false, true},
    {"A stored transposed, split by rows", {256, 200}, {256, 100}, true, false},
    {"2 batches for 3 threads: each GEMM split", {2, 200, 128}, {2, 128, 96}, false, false},
    {"6 batches for 3 threads: whole GEMMs per thread", {6, 128, 64}, {6, 64, 128}, false, false},
};

}  // namespace

TEST_CASE("matmul split across threads matches the naive product, bit-stable per thread count") {
  const int saved = omp_get_max_threads();
  for (DType dtype : {DType::f32, DType::f64}) {
    for (const Case& c : kCases) {
      CAPTURE(c.name);
      CAPTURE(dtype_name(dtype));
      const Tensor a = random_tensor(c.a, dtype, 1), b = random_tensor(c.b, dtype, 2);
      for (int threads : {1, 2, 3}) {
        CAPTURE(threads);
        omp_set_num_threads(threads);
        const Tensor first = ops::matmul(a, b, c.ta, c.tb);
        const Tensor second = ops::matmul(a, b, c.ta, c.tb);
        CHECK(worst_error(first, a, b, c.ta, c.tb) < (dtype == DType::f32 ? 1e-6 : 1e-14));
        CHECK(std::memcmp(first.data_ptr(), second.data_ptr(),
                          static_cast<size_t>(first.numel()) * dtype_size(dtype)) == 0);
      }
    }
  }
  omp_set_num_threads(saved);
}
