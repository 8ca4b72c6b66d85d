// bench_gemm: ops::matmul on the GPU (cuBLASLt through the plan cache) on the GEMM shapes of one
// FLAN-T5 training step, in TFLOP/s and as a fraction of the card's dense peak. Each shape runs
// in its forward form and both backward forms (dX = dY·W, dW = dYᵀ·X).
//
//   bench_gemm [--json PATH] [--repeats N] [--peak-tflops P] [--dtype bf16|f32]
//
// Exits 77 (skipped) without a CUDA device, as the CUDA tests do.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tensor/cuda/stream.h"
#include "tensor/device.h"
#include "tensor/ops.h"

using namespace t5zero;

namespace {

struct Shape3 {
  const char* model;
  const char* name;
  int64_t batch, m, n, k;  // C[batch, m, n] = A[batch, m, k] · B[batch, k, n]
};

// Tokens per step: 8 sequences of 512 encoder tokens (4096 rows); 8 × 128 decoder tokens for the
// LM head. base: d_model 768, d_ff 2048, 12 heads of 64; XL: 2048, 5120, 32 heads of 64.
const Shape3 kShapes[] = {
    {"flan-t5-base", "attention q/k/v/o", 1, 4096, 768, 768},
    {"flan-t5-base", "ffn wi_0/wi_1", 1, 4096, 2048, 768},
    {"flan-t5-base", "ffn wo", 1, 4096, 768, 2048},
    {"flan-t5-base", "lm_head", 1, 1024, 32128, 768},
    {"flan-t5-base", "scores q.k^T", 96, 512, 512, 64},
    {"flan-t5-base", "probs.v", 96, 512, 64, 512},
    {"flan-t5-xl", "attention q/k/v/o", 1, 4096, 2048, 2048},
    {"flan-t5-xl", "ffn wi_0/wi_1", 1, 4096, 5120, 2048},
    {"flan-t5-xl", "ffn wo", 1, 4096, 2048, 5120},
    {"flan-t5-xl", "lm_head", 1, 1024, 32128, 2048},
    {"flan-t5-xl", "scores q.k^T", 256, 512, 512, 64},
    {"flan-t5-xl", "probs.v", 256, 512, 64, 512},
};

// The three GEMMs of a linear layer's step: forward, input gradient, weight gradient.
struct Form {
  const char* name;
  bool transpose_a, transpose_b;
};

// Uniform values in [-1, 1) from a 64-bit LCG: random enough for a GEMM's timing (all-equal
// inputs run faster), fast for tens of millions of values.
Tensor random_on_gpu(const Shape& shape, DType dtype, uint64_t seed) {
  Tensor host = Tensor::empty(shape, DType::f32);
  float* p = host.data<float>();
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < host.numel(); ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = static_cast<float>(static_cast<double>(state >> 40) / 8388608.0 - 1.0);
  }
  return host.to(Device::cuda(0)).to(dtype);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median milliseconds of `repeats` runs after 3 warm-ups, timed with events on the stream.
template <typename Run>
double median_ms(Run&& run, int repeats) {
  for (int i = 0; i < 3; ++i) run();
  std::vector<double> ms;
  cuda::Event start(true), end(true);
  for (int i = 0; i < repeats; ++i) {
    start.record(nullptr);
    run();
    end.record(nullptr);
    end.synchronize();
    ms.push_back(end.elapsed_ms_since(start));
  }
  return median(ms);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  int repeats = 20;
  double peak = 989.0;  // H100 SXM dense bf16 TFLOP/s
  DType dtype = DType::bf16;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_gemm: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--json") {
      json_path = value();
    } else if (arg == "--repeats") {
      repeats = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--peak-tflops") {
      peak = std::atof(value().c_str());
    } else if (arg == "--dtype") {
      const std::string d = value();
      if (d != "bf16" && d != "f32") {
        std::fprintf(stderr, "bench_gemm: --dtype: expected bf16 or f32, got %s\n", d.c_str());
        return 2;
      }
      dtype = d == "bf16" ? DType::bf16 : DType::f32;
    } else {
      std::fprintf(stderr,
                   "usage: bench_gemm [--json PATH] [--repeats N] [--peak-tflops P] "
                   "[--dtype bf16|f32]\n");
      return 2;
    }
  }
  if (cuda_device_count() == 0) {
    std::printf("skipped: no CUDA device\n");
    return 77;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("bench_gemm: %s, %s, ops::matmul (cuBLASLt), median of %d runs; peak %.0f TFLOP/s\n",
              prop.name, dtype_name(dtype), repeats, peak);
  std::printf("%-13s %-18s %-6s %6s %6s %6s %6s %9s %9s %7s\n", "model", "gemm", "form", "batch",
              "M", "N", "K", "ms", "TFLOP/s", "of peak");
  const Form forms[] = {{"fwd", false, true}, {"dX", false, false}, {"dW", true, false}};
  std::string json = "{\"device\": \"" + std::string(prop.name) + "\", \"dtype\": \"" +
                     dtype_name(dtype) + "\", \"peak_tflops\": " + std::to_string(peak) +
                     ", \"results\": [";
  bool first = true;
  for (const Shape3& s : kShapes) {
    for (const Form& f : forms) {
      // fwd: Y[m, n] = X[m, k] · W[n, k]ᵀ; dX: [m, k] = dY[m, n] · W[n, k]; dW: [n, k] = dYᵀ · X.
      int64_t m = s.m, n = s.n, k = s.k;
      Shape a_shape, b_shape;
      if (std::strcmp(f.name, "fwd") == 0) {
        a_shape = {s.batch, m, k};
        b_shape = {s.batch, n, k};
      } else if (std::strcmp(f.name, "dX") == 0) {
        a_shape = {s.batch, m, n};
        b_shape = {s.batch, n, k};
        std::swap(n, k);
      } else {
        a_shape = {s.batch, m, n};
        b_shape = {s.batch, m, k};
        const int64_t rows = n;
        k = m;
        m = rows;
        n = s.k;
      }
      const Tensor a = random_on_gpu(a_shape, dtype, 1);
      const Tensor b = random_on_gpu(b_shape, dtype, 2);
      Tensor c;
      const double ms =
          median_ms([&] { c = ops::matmul(a, b, f.transpose_a, f.transpose_b); }, repeats);
      const double flops = 2.0 * static_cast<double>(s.batch) * static_cast<double>(m) *
                           static_cast<double>(n) * static_cast<double>(k);
      const double tflops = flops / (ms * 1e-3) * 1e-12;
      std::printf("%-13s %-18s %-6s %6lld %6lld %6lld %6lld %9.3f %9.1f %6.1f%%\n", s.model, s.name,
                  f.name, static_cast<long long>(s.batch), static_cast<long long>(m),
                  static_cast<long long>(n), static_cast<long long>(k), ms, tflops,
                  100.0 * tflops / peak);
      char entry[512];
      std::snprintf(entry, sizeof entry,
                    "%s{\"model\": \"%s\", \"gemm\": \"%s\", \"form\": \"%s\", \"batch\": %lld, "
                    "\"m\": %lld, \"n\": %lld, \"k\": %lld, \"transpose_a\": %s, "
                    "\"transpose_b\": %s, \"ms\": %.5f, \"tflops\": %.2f, "
                    "\"fraction_of_peak\": %.4f}",
                    first ? "" : ", ", s.model, s.name, f.name, static_cast<long long>(s.batch),
                    static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k),
                    f.transpose_a ? "true" : "false", f.transpose_b ? "true" : "false", ms, tflops,
                    tflops / peak);
      json += entry;
      first = false;
    }
  }
  json += "]}\n";
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << json;
    if (!out) {
      std::fprintf(stderr, "bench_gemm: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  return 0;
}
