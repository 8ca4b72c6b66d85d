// `t5zero bench --ops`: op micro-benchmarks against BLAS called directly on the same buffers.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <utility>
#include <vector>

#include "cmd_bench.h"
#include "tensor/ops.h"

namespace t5zero::cli::bench {

namespace {

// Warm-up runs last at least this long: OpenBLAS's pthreads spin for up to 2^28 cycles (about
// 0.1 s) after the library loads and after each multi-threaded call before they sleep, and a
// figure taken in that window times ours against a spinning thread.
constexpr double kMinWarmupSeconds = 0.3;

// Median wall times of `ours` and `baseline`, each over `repeats` runs after `warmups` unmeasured
// ones (and at least kMinWarmupSeconds of them). All of ours run first, then all of the
// baseline's, so the baseline's spinning pthreads never overlap ours.
std::pair<double, double> median_seconds(const std::function<void()>& ours,
                                         const std::function<void()>& baseline, int warmups,
                                         int repeats) {
  auto measure = [&](const std::function<void()>& run) {
    double warm = 0;
    for (int i = 0; i < warmups || warm < kMinWarmupSeconds; ++i) warm += seconds_of(run);
    std::vector<double> seconds;
    for (int i = 0; i < repeats; ++i) seconds.push_back(seconds_of(run));
    return median(seconds);
  };
  const double ours_seconds = measure(ours);
  return {ours_seconds, measure(baseline)};
}

Tensor random_f32(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Tensor t = Tensor::zeros(shape, DType::f32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = uniform(rng);
  return t;
}

struct MatmulCase {
  int64_t m, n, k;
  bool transpose_b;  // B stored [N, K], as a linear layer's weight
};

// ops::matmul and cblas_sgemm on the same buffers: C[M, N] = A[M, K] · B (row-major). ops::matmul
// splits the GEMM over the OpenMP team, each thread calling BLAS single-threaded; the baseline is
// one BLAS call with `blas_threads` OpenBLAS threads.
void bench_matmul(const MatmulCase& c, int blas_threads, int warmups, int repeats) {
  Tensor a = random_f32({c.m, c.k}, 1);
  Tensor b = random_f32(c.transpose_b ? Shape{c.n, c.k} : Shape{c.k, c.n}, 2);
  Tensor ours_out;
  Tensor blas_out = Tensor::zeros({c.m, c.n}, DType::f32);
  const int m = static_cast<int>(c.m), n = static_cast<int>(c.n), k = static_cast<int>(c.k);
  auto [ours, blas] = median_seconds(
      [&] { ours_out = ops::matmul(a, b, false, c.transpose_b); },
      [&] {
        openblas_set_num_threads(blas_threads);  // ops::matmul set it to 1
        cblas_sgemm(CblasRowMajor, CblasNoTrans, c.transpose_b ? CblasTrans : CblasNoTrans, m, n, k,
                    1.0f, a.data<float>(), k, b.data<float>(), c.transpose_b ? k : n, 0.0f,
                    blas_out.data<float>(), n);
      },
      warmups, repeats);
  const double flops =
      2.0 * static_cast<double>(c.m) * static_cast<double>(c.n) * static_cast<double>(c.k);
  // The two split the work differently across threads, and OpenBLAS's kernels round
  // differently with the split: equal to a few float ulps of the largest value, not bit for bit.
  const float* po = ours_out.data<float>();
  const float* pb = blas_out.data<float>();
  double max_diff = 0, max_value = 0;
  for (int64_t i = 0; i < c.m * c.n; ++i) {
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(po[i]) - pb[i]));
    max_value = std::max(max_value, std::fabs(static_cast<double>(pb[i])));
  }
  std::printf("  %5lld x %5lld x %5lld  %-6s %12.1f %14.1f %10.3f   %.1e\n",
              static_cast<long long>(c.m), static_cast<long long>(c.n), static_cast<long long>(c.k),
              c.transpose_b ? "B^T" : "B", flops / ours * 1e-9, flops / blas * 1e-9, blas / ours,
              max_value > 0 ? max_diff / max_value : max_diff);
}

}  // namespace

void run_ops_bench(int warmups, int repeats) {
  print_blas();
  const int blas_threads = openblas_get_num_threads();
  std::printf(
      "matmul f32: C[M x N] = A[M x K] . B[K x N]  (B^T: B stored [N x K], as nn.Linear)\n");
  std::printf(
      "threads: ops::matmul OpenMP %d (BLAS single-threaded in each), cblas_sgemm "
      "OpenBLAS %d; median of %d runs after %d warm-up\n",
      omp_get_max_threads(), blas_threads, repeats, warmups);
  std::printf(
      "      M x     N x     K  B      ops::matmul   cblas_sgemm  ours/BLAS   max |diff|\n");
  std::printf("                                  GFLOP/s       GFLOP/s   (speed)    / max |C|\n");
  const MatmulCase cases[] = {
      {512, 512, 512, false}, {2048, 2048, 512, false}, {2048, 2048, 512, true}};
  for (const MatmulCase& c : cases) bench_matmul(c, blas_threads, warmups, repeats);
}

}  // namespace t5zero::cli::bench
