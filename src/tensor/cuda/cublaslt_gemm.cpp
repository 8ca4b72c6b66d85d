#include "tensor/cuda/cublaslt_gemm.h"

#include <cublasLt.h>

#include <atomic>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/device_allocator.h"

#define T5_CUBLAS_CHECK(call)                                                                 \
  do {                                                                                        \
    cublasStatus_t t5_cublas_status = (call);                                                 \
    if (t5_cublas_status != CUBLAS_STATUS_SUCCESS)                                            \
      ::t5zero::fail(#call, " failed at ", __FILE__, ":", __LINE__, ": ",                     \
                     cublasLtGetStatusString(t5_cublas_status), " (", t5_cublas_status, ")"); \
  } while (0)

namespace t5zero::cuda {

namespace {

std::atomic<bool> tf32_allowed{false};

// The largest power of two (up to 256) dividing the address: cuBLASLt picks kernels by it.
int64_t alignment_of(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  int64_t alignment = 256;
  while (alignment > 1 && address % static_cast<uintptr_t>(alignment) != 0) alignment /= 2;
  return alignment;
}

// Everything the plan depends on. Pointers enter only through their alignment.
using PlanKey = std::tuple<int,                                 // device
                           int,                                 // dtype
                           bool,                                // tf32
                           int64_t, int64_t, int64_t, int64_t,  // m, n, k, batch
                           bool, int64_t, int64_t, int64_t,     // a: transposed, ld, stride, align
                           bool, int64_t, int64_t, int64_t,     // b
                           int64_t, int64_t, int64_t>;          // c: ld, stride, align

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  bool f64 = false;
};

struct State {
  std::mutex mutex;
  std::vector<cublasLtHandle_t> handles;  // per device
  std::map<PlanKey, Plan> plans;          // never freed: shapes recur every step
  std::map<std::pair<int, cudaStream_t>, void*> workspaces;
  GemmPlanStats stats;
};

State& state() {
  static State* s = new State();  // lives until exit, like the plans it holds
  return *s;
}

cublasLtHandle_t handle_locked(State& s, int device) {
  if (s.handles.size() <= static_cast<size_t>(device)) s.handles.resize(device + 1, nullptr);
  if (s.handles[device] == nullptr) T5_CUBLAS_CHECK(cublasLtCreate(&s.handles[device]));
  return s.handles[device];
}

void* workspace_locked(State& s, int device, cudaStream_t stream) {
  void*& w = s.workspaces[{device, stream}];
  if (w == nullptr) {
    w = device_allocator(device).allocate(kGemmWorkspaceBytes, reinterpret_cast<StreamId>(stream),
                                          MemoryCategory::workspace);
  }
  return w;
}

cudaDataType_t data_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return CUDA_R_32F;
    case DType::f64:
      return CUDA_R_64F;
    case DType::bf16:
      return CUDA_R_16BF;
    default:
      fail("gemm: expected f32, f64 or bf16, got ", dtype_name(dtype));
  }
}

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld,
                                   int64_t batch, int64_t batch_stride) {
  cublasLtMatrixLayout_t layout = nullptr;
  T5_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, type, static_cast<uint64_t>(rows),
                                             static_cast<uint64_t>(cols), ld));
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    T5_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                     &count, sizeof count));
    T5_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(
        layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &batch_stride, sizeof batch_stride));
  }
  return layout;
}

// cuBLASLt is column-major. The row-major C [m, n] is the column-major Cᵀ [n, m], and
// Cᵀ = Bᵀ · Aᵀ: cuBLASLt's first operand is our B, its second our A. A row-major operand
// [r, c] with leading dimension ld is a column-major [c, r] matrix, i.e. already transposed.
Plan make_plan(cublasLtHandle_t handle, const GemmProblem& p, bool tf32) {
  Plan plan;
  plan.f64 = p.dtype == DType::f64;
  const cudaDataType_t type = data_type(p.dtype);
  const cublasComputeType_t compute = plan.f64 ? CUBLAS_COMPUTE_64F
                                      : (tf32 && p.dtype == DType::f32)
                                          ? CUBLAS_COMPUTE_32F_FAST_TF32
                                          : CUBLAS_COMPUTE_32F;
  const cudaDataType_t scale = plan.f64 ? CUDA_R_64F : CUDA_R_32F;
  T5_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.desc, compute, scale));
  const cublasOperation_t op_first = p.b.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = p.a.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  T5_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_first,
                                                 sizeof op_first));
  T5_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_second,
                                                 sizeof op_second));
  // First operand Bᵀ [n, k]: stored column-major [n, k] (B row-major) or [k, n] (B transposed).
  plan.a = p.b.transposed ? make_layout(type, p.k, p.n, p.b.ld, p.batch, p.b.batch_stride)
                          : make_layout(type, p.n, p.k, p.b.ld, p.batch, p.b.batch_stride);
  // Second operand Aᵀ [k, m]: column-major [k, m] (A row-major) or [m, k] (A transposed).
  plan.b = p.a.transposed ? make_layout(type, p.m, p.k, p.a.ld, p.batch, p.a.batch_stride)
                          : make_layout(type, p.k, p.m, p.a.ld, p.batch, p.a.batch_stride);
  plan.c = make_layout(type, p.n, p.m, p.ldc, p.batch, p.c_batch_stride);

  cublasLtMatmulPreference_t preference = nullptr;
  T5_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  const size_t workspace = kGemmWorkspaceBytes;
  T5_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace));
  const uint32_t align_first = static_cast<uint32_t>(alignment_of(p.b.data));
  const uint32_t align_second = static_cast<uint32_t>(alignment_of(p.a.data));
  const uint32_t align_c = static_cast<uint32_t>(alignment_of(p.c));
  T5_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_first, sizeof align_first));
  T5_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_second, sizeof align_second));
  T5_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof align_c));
  T5_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, sizeof align_c));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  T5_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle, plan.desc, plan.a, plan.b, plan.c, plan.c,
                                                 preference, 1, &result, &found));
  cublasLtMatmulPreferenceDestroy(preference);
  T5_CHECK(found > 0 && result.state == CUBLAS_STATUS_SUCCESS,
           "gemm: cuBLASLt has no algorithm for ", dtype_name(p.dtype), " m=", p.m, " n=", p.n,
           " k=", p.k, " batch=", p.batch, " (transposed a=", p.a.transposed, " b=", p.b.transposed,
           ", ld ", p.a.ld, "/", p.b.ld, "/", p.ldc, ")");
  plan.algo = result.algo;
  plan.workspace = result.workspaceSize;
  return plan;
}

}  // namespace

void set_allow_tf32(bool allow) {
  tf32_allowed = allow;
}

bool allow_tf32() {
  return tf32_allowed;
}

void gemm(const GemmProblem& p, cudaStream_t stream) {
  T5_CHECK(p.m >= 1 && p.n >= 1 && p.k >= 1 && p.batch >= 1,
           "gemm: sizes must be >= 1, got m=", p.m, " n=", p.n, " k=", p.k, " batch=", p.batch);
  int device = 0;
  T5_CUDA_CHECK(cudaGetDevice(&device));
  const bool tf32 = allow_tf32();
  const PlanKey key{device,
                    static_cast<int>(p.dtype),
                    tf32,
                    p.m,
                    p.n,
                    p.k,
                    p.batch,
                    p.a.transposed,
                    p.a.ld,
                    p.a.batch_stride,
                    alignment_of(p.a.data),
                    p.b.transposed,
                    p.b.ld,
                    p.b.batch_stride,
                    alignment_of(p.b.data),
                    p.ldc,
                    p.c_batch_stride,
                    alignment_of(p.c)};
  State& s = state();
  Plan plan;
  void* workspace = nullptr;
  cublasLtHandle_t handle = nullptr;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    handle = handle_locked(s, device);
    auto it = s.plans.find(key);
    if (it == s.plans.end()) {
      ++s.stats.misses;
      it = s.plans.emplace(key, make_plan(handle, p, tf32)).first;
      s.stats.plans = static_cast<int64_t>(s.plans.size());
    } else {
      ++s.stats.hits;
    }
    plan = it->second;
    workspace = workspace_locked(s, device, stream);
  }
  const float alpha_f = static_cast<float>(p.alpha), beta_f = static_cast<float>(p.beta);
  const void* alpha = plan.f64 ? static_cast<const void*>(&p.alpha) : &alpha_f;
  const void* beta = plan.f64 ? static_cast<const void*>(&p.beta) : &beta_f;
  T5_CUBLAS_CHECK(cublasLtMatmul(handle, plan.desc, alpha, p.b.data, plan.a, p.a.data, plan.b, beta,
                                 p.c, plan.c, p.c, plan.c, &plan.algo, workspace, plan.workspace,
                                 stream));
}

GemmPlanStats gemm_plan_stats() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.stats;
}

}  // namespace t5zero::cuda
