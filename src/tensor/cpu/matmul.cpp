// Matrix products on the CPU: one BLAS GEMM per batch, reading strided operands in place when
// BLAS can (unit stride along rows or along columns), copying them contiguous otherwise.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <optional>

#include "tensor/cpu/cpu_ops.h"

namespace t5zero::cpu {

namespace {

// Below this many multiply-adds OpenBLAS runs a GEMM on the calling thread
// (SMP_THRESHOLD_MIN · GEMM_MULTITHREAD_THRESHOLD = 65536 · 4 in its interface/gemm.c), so
// batches of such GEMMs are worth spreading over OpenMP threads; larger ones thread internally.
constexpr int64_t kSingleThreadGemm = 65536 * 4;
// Below this many multiply-adds in all batches together, one thread is faster than a team.
constexpr int64_t kParallelBatchWork = 1 << 18;

// How BLAS reads one logical [rows, cols] operand: row-major with leading dimension `ld`, or the
// transpose of a row-major [cols, rows] matrix (`transposed`).
struct BlasLayout {
  bool transposed;
  int64_t ld;
};

// The layout of a [rows, cols] matrix with the given element strides, or nullopt when BLAS cannot
// read it in place (a broadcast, a strided column, overlapping rows).
std::optional<BlasLayout> blas_layout(int64_t rows, int64_t cols, int64_t row_stride,
                                      int64_t col_stride) {
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= std::max<int64_t>(cols, 1))) {
    return BlasLayout{false, rows == 1 ? std::max<int64_t>(cols, 1) : row_stride};
  }
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= std::max<int64_t>(rows, 1))) {
    return BlasLayout{true, cols == 1 ? std::max<int64_t>(rows, 1) : col_stride};
  }
  return std::nullopt;
}

int blas_int(int64_t v, const char* what) {
  T5_CHECK(v <= INT_MAX, "matmul: ", what, " = ", v, " exceeds the BLAS integer range");
  return static_cast<int>(v);
}

void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
          float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

void gemm(bool ta, bool tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb,
          double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

// A logical operand [..., rows, cols] as BLAS reads it, expanded to the output's batch dims; made
// contiguous first (before expanding, so broadcast batches are not copied) when its last two dims
// are not BLAS-readable.
struct Operand {
  Tensor view;
  BlasLayout layout;
};

Operand blas_operand(Tensor logical, const Shape& batch) {
  const int64_t rows = logical.size(-2), cols = logical.size(-1);
  auto layout = blas_layout(rows, cols, logical.stride(-2), logical.stride(-1));
  if (!layout) {
    logical = logical.contiguous();
    layout = blas_layout(rows, cols, logical.stride(-2), logical.stride(-1));
  }
  Shape shape = batch;
  shape.push_back(rows);
  shape.push_back(cols);
  return Operand{logical.expand(shape), *layout};
}

// Element offset of each batch of `t` (rank = batch rank + 2), in row-major batch order.
std::vector<int64_t> batch_offsets(const Tensor& t, const Shape& batch) {
  std::vector<int64_t> offsets(static_cast<size_t>(shape_numel(batch)), 0);
  for (size_t i = 0; i < offsets.size(); ++i) {
    int64_t rest = static_cast<int64_t>(i);
    for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
      offsets[i] += (rest % batch[d]) * t.stride(d);
      rest /= batch[d];
    }
  }
  return offsets;
}

// True when the batch dims of a row-major (untransposed) operand continue its row stride, so
// [batch..., rows, cols] is one [batch·rows, cols] matrix.
bool batches_fold_into_rows(const Operand& op, const Shape& batch) {
  if (op.layout.transposed) return false;
  int64_t expected = op.layout.ld * op.view.size(-2);
  for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    if (op.view.stride(d) != expected) return false;
    expected *= batch[d];
  }
  return true;
}

template <typename T>
void matmul_blas(const Operand& a, const Operand& b, const Shape& batch, const Tensor& out) {
  const int64_t m = a.view.size(-2), k = a.view.size(-1), n = b.view.size(-1);
  const T* pa = static_cast<const T*>(a.view.data_ptr());
  const T* pb = static_cast<const T*>(b.view.data_ptr());
  T* pc = out.data<T>();
  const int lda = blas_int(a.layout.ld, "lda"), ldb = blas_int(b.layout.ld, "ldb");
  const int ni = blas_int(n, "N"), ki = blas_int(k, "K");
  const int64_t num_batches = shape_numel(batch);

  const std::vector<int64_t> b_offsets = batch_offsets(b.view, batch);
  const bool b_shared =
      std::all_of(b_offsets.begin(), b_offsets.end(), [&](int64_t o) { return o == b_offsets[0]; });
  // A linear layer on [batch, seq, d]: one tall GEMM instead of many short ones.
  if (b_shared && batches_fold_into_rows(a, batch)) {
    gemm(false, b.layout.transposed, blas_int(num_batches * m, "batch*M"), ni, ki, pa, lda, pb, ldb,
         pc, ni);
    return;
  }
  const std::vector<int64_t> a_offsets = batch_offsets(a.view, batch);
  const int mi = blas_int(m, "M");
  const bool parallel = num_batches > 1 && m * n * k < kSingleThreadGemm &&
                        num_batches * m * n * k >= kParallelBatchWork;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < num_batches; ++i) {
    gemm(a.layout.transposed, b.layout.transposed, mi, ni, ki, pa + a_offsets[i], lda,
         pb + b_offsets[i], ldb, pc + i * m * n, ni);
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  T5_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: operands need at least 2 dims, got ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  T5_CHECK(a.dtype() == b.dtype(), "matmul: operand dtypes differ: ", dtype_name(a.dtype()),
           " and ", dtype_name(b.dtype()));
  T5_CHECK(is_floating(a.dtype()), "matmul: expected a floating dtype (f32, f64, bf16), got ",
           dtype_name(a.dtype()));
  if (a.dtype() == DType::bf16) {
    // As torch on the CPU: accumulate in f32 and round each output element once.
    return matmul(a.to(DType::f32), b.to(DType::f32), transpose_a, transpose_b).to(DType::bf16);
  }
  // Logical operands A [..., M, K] and B [..., K, N].
  Tensor la = transpose_a ? a.transpose(-2, -1) : a;
  Tensor lb = transpose_b ? b.transpose(-2, -1) : b;
  const int64_t m = la.size(-2), k = la.size(-1), n = lb.size(-1);
  T5_CHECK(lb.size(-2) == k, "matmul: inner dimensions differ: A is ", shape_str(la.shape()),
           " and B is ", shape_str(lb.shape()), " (after transpose_a=", transpose_a,
           ", transpose_b=", transpose_b, ")");
  Shape batch_a(la.shape().begin(), la.shape().end() - 2);
  Shape batch_b(lb.shape().begin(), lb.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(batch_a, batch_b);
  } catch (const Error&) {
    fail("matmul: batch dims ", shape_str(batch_a), " and ", shape_str(batch_b),
         " do not broadcast (A is ", shape_str(la.shape()), ", B is ", shape_str(lb.shape()), ")");
  }
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  if (shape_numel(out_shape) == 0 || k == 0)
    return Tensor::zeros(out_shape, a.dtype());      // sum of none
  Tensor out = Tensor::empty(out_shape, a.dtype());  // beta = 0: BLAS writes every element

  Operand oa = blas_operand(la, batch);
  Operand ob = blas_operand(lb, batch);
  if (a.dtype() == DType::f32) {
    matmul_blas<float>(oa, ob, batch, out);
  } else {
    matmul_blas<double>(oa, ob, batch, out);
  }
  return out;
}

}  // namespace t5zero::cpu
