// Row-major (strided-batched) GEMM through cuBLASLt: C = alpha · A · B + beta · C with f32
// accumulation for f32 and bf16 (f64 in f64). The matmul descriptor, the matrix layouts and the
// heuristic's algorithm are built once per problem shape and cached; each stream gets its own
// workspace (two streams never share one). TF32 is used for f32 only after set_allow_tf32(true).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/dtype.h"

namespace t5zero::cuda {

// One operand as stored: element (r, c) of the logical matrix sits at r·ld + c, or at c·ld + r
// when `transposed`; batch i starts batch_stride elements after batch i−1 (0: one matrix shared
// by every batch).
struct GemmOperand {
  const void* data = nullptr;
  bool transposed = false;
  int64_t ld = 0;
  int64_t batch_stride = 0;
};

// C [m, n] (row-major, leading dimension ldc) = alpha · A [m, k] · B [k, n] + beta · C, for
// `batch` independent problems. A, B and C share `dtype` (f32, f64 or bf16).
struct GemmProblem {
  DType dtype = DType::f32;
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1;
  GemmOperand a, b;
  void* c = nullptr;
  int64_t ldc = 0;
  int64_t c_batch_stride = 0;
  double alpha = 1.0;
  double beta = 0.0;
};

// Runs the problem on `stream` of the current device (m, n, k, batch >= 1).
void gemm(const GemmProblem& problem, cudaStream_t stream);

struct GemmPlanStats {
  int64_t plans = 0;   // distinct shapes planned
  int64_t hits = 0;    // calls that found their plan cached
  int64_t misses = 0;  // calls that had to plan
};
GemmPlanStats gemm_plan_stats();

// Bytes of cuBLASLt workspace per stream (32 MiB, the size NVIDIA recommends for Hopper).
constexpr size_t kGemmWorkspaceBytes = size_t{32} << 20;

}  // namespace t5zero::cuda
