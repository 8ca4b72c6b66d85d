// t5zero bench: speed measurements. --ops: op micro-benchmarks against their baselines.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <utility>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "tensor/ops.h"

namespace t5zero::cli {

namespace {

double seconds_of(const std::function<void()>& run) {
  auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median wall times of `ours` and `baseline` over `repeats` runs after `warmups` unmeasured ones.
// The two alternate (in either order), so load from other processes falls on both alike.
std::pair<double, double> median_seconds(const std::function<void()>& ours,
                                         const std::function<void()>& baseline, int warmups,
                                         int repeats) {
  for (int i = 0; i < warmups; ++i) {
    ours();
    baseline();
  }
  std::vector<double> ours_s, baseline_s;
  for (int i = 0; i < repeats; ++i) {
    if (i % 2 == 0) {
      ours_s.push_back(seconds_of(ours));
      baseline_s.push_back(seconds_of(baseline));
    } else {
      baseline_s.push_back(seconds_of(baseline));
      ours_s.push_back(seconds_of(ours));
    }
  }
  return {median(ours_s), median(baseline_s)};
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

// ops::matmul and cblas_sgemm on the same buffers: C[M, N] = A[M, K] · B (row-major).
void bench_matmul(const MatmulCase& c, int warmups, int repeats) {
  Tensor a = random_f32({c.m, c.k}, 1);
  Tensor b = random_f32(c.transpose_b ? Shape{c.n, c.k} : Shape{c.k, c.n}, 2);
  Tensor ours_out;
  Tensor blas_out = Tensor::zeros({c.m, c.n}, DType::f32);
  const int m = static_cast<int>(c.m), n = static_cast<int>(c.n), k = static_cast<int>(c.k);
  auto [ours, blas] = median_seconds(
      [&] { ours_out = ops::matmul(a, b, false, c.transpose_b); },
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, c.transpose_b ? CblasTrans : CblasNoTrans, m, n, k,
                    1.0f, a.data<float>(), k, b.data<float>(), c.transpose_b ? k : n, 0.0f,
                    blas_out.data<float>(), n);
      },
      warmups, repeats);
  const double flops =
      2.0 * static_cast<double>(c.m) * static_cast<double>(c.n) * static_cast<double>(c.k);
  const bool identical = std::memcmp(ours_out.data<float>(), blas_out.data<float>(),
                                     static_cast<size_t>(c.m * c.n) * sizeof(float)) == 0;
  std::printf("  %5lld x %5lld x %5lld  %-6s %12.1f %14.1f %10.3f   %s\n",
              static_cast<long long>(c.m), static_cast<long long>(c.n), static_cast<long long>(c.k),
              c.transpose_b ? "B^T" : "B", flops / ours * 1e-9, flops / blas * 1e-9, blas / ours,
              identical ? "yes" : "NO");
}

}  // namespace

int run_bench(int argc, char** argv) {
  FlagSet flags("bench", "Measure speed; every figure is printed next to its baseline.");
  flags.add_bool("ops", false, "op micro-benchmarks (matmul GFLOP/s against BLAS called directly)");
  flags.add_int("threads", 0, "OpenMP and OpenBLAS threads (0: leave their defaults)");
  flags.add_int("repeats", 7, "measured runs per figure (the median is printed)");
  flags.add_int("warmups", 2, "unmeasured runs before measuring");
  if (!flags.parse(argc, argv, 2)) return 0;
  if (!flags.get_bool("ops")) throw UsageError("nothing to measure: pass --ops");
  const int64_t threads = flags.get_int("threads");
  const int64_t repeats = flags.get_int("repeats");
  const int64_t warmups = flags.get_int("warmups");
  if (threads < 0) throw UsageError("--threads: expected >= 0, got " + std::to_string(threads));
  if (repeats < 1) throw UsageError("--repeats: expected >= 1, got " + std::to_string(repeats));
  if (warmups < 0) throw UsageError("--warmups: expected >= 0, got " + std::to_string(warmups));
  if (threads > 0) {
    omp_set_num_threads(static_cast<int>(threads));
    openblas_set_num_threads(static_cast<int>(threads));
  }
  std::printf(
      "matmul f32: C[M x N] = A[M x K] . B[K x N]  (B^T: B stored [N x K], as nn.Linear)\n");
  std::printf("threads: OpenMP %d, OpenBLAS %d; median of %lld runs after %lld warm-up\n",
              omp_get_max_threads(), openblas_get_num_threads(), static_cast<long long>(repeats),
              static_cast<long long>(warmups));
  std::printf(
      "      M x     N x     K  B      ops::matmul   cblas_sgemm  ours/BLAS   same output\n");
  std::printf("                                  GFLOP/s       GFLOP/s   (speed)\n");
  const MatmulCase cases[] = {
      {512, 512, 512, false}, {2048, 2048, 512, false}, {2048, 2048, 512, true}};
  for (const MatmulCase& c : cases) {
    bench_matmul(c, static_cast<int>(warmups), static_cast<int>(repeats));
  }
  return 0;
}

}  // namespace t5zero::cli
