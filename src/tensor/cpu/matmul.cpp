// Matrix products on the CPU: BLAS GEMMs reading strided operands in place when BLAS can (unit
// stride along rows or along columns), copying them contiguous otherwise.
//
// Threads: the OpenMP team runs the GEMMs, each thread calling BLAS single-threaded on its share
// (a batch, or a slice of the rows or columns of one GEMM), so one thread pool does all of a
// step's work. With OpenBLAS's own pthreads next to OpenMP's, each pool's threads spin-wait while
// the other works (OpenMP after every parallel loop, OpenBLAS after every GEMM), and with a thread
// per core the spinners take cores from the workers: a flan-t5-small step (batch 2 x 256/64) ran
// 2-3x slower that way on a loaded 2-core machine. torch does the same with MKL, which it runs on
// its OpenMP threads.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <optional>

#include "tensor/cpu/cpu_ops.h"
#include "tensor/gemm_layout.h"

namespace t5zero::cpu {

namespace {

// Multiply-adds below which another thread costs more (waking it, a cold cache) than it saves.
constexpr int64_t kGemmWorkPerThread = 1 << 20;
// Slices of one GEMM's rows or columns are multiples of this, the register tile of BLAS kernels.
constexpr int64_t kSliceAlignment = 16;

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
bool batches_fold_into_rows(const StridedOperand& op, const Shape& batch) {
  if (op.layout.transposed) return false;
  int64_t expected = op.layout.ld * op.view.size(-2);
  for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    if (op.view.stride(d) != expected) return false;
    expected *= batch[d];
  }
  return true;
}

// Threads worth giving `work` multiply-adds, at most the team's size.
int threads_for(int64_t work) {
  if (omp_in_parallel()) return 1;
  return static_cast<int>(std::clamp<int64_t>(work / kGemmWorkPerThread, 1, omp_get_max_threads()));
}

// BLAS runs single-threaded inside our team (see the top of this file); said once per call, as
// other code (a trainer's --num_threads) may have set BLAS threads since.
void make_blas_single_threaded() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

// One GEMM C[m, n] = op(A)·op(B), split across `threads` threads by slices of C's rows (or of its
// columns when it has fewer rows than columns), each slice one single-threaded BLAS call.
template <typename T>
void gemm_split(int threads, bool ta, bool tb, int m, int n, int k, const T* a, int lda, const T* b,
                int ldb, T* c, int ldc) {
  if (threads <= 1) {
    gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
    return;
  }
  const bool by_rows = m >= n;
  const int64_t extent = by_rows ? m : n;
  const int64_t tiles = (extent + kSliceAlignment - 1) / kSliceAlignment;
#pragma omp parallel num_threads(threads)
  {
    const int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
    const int64_t begin = std::min(extent, tiles * part / parts * kSliceAlignment);
    const int64_t end = std::min(extent, tiles * (part + 1) / parts * kSliceAlignment);
    if (begin < end) {
      const int len = static_cast<int>(end - begin);
      if (by_rows) {
        // Row i of op(A) starts at element i·lda of A, or at column i when A is stored transposed.
        gemm(ta, tb, len, n, k, a + (ta ? begin : begin * lda), lda, b, ldb, c + begin * ldc, ldc);
      } else {
        gemm(ta, tb, m, len, k, a, lda, b + (tb ? begin * ldb : begin), ldb, c + begin, ldc);
      }
    }
  }
}

template <typename T>
void matmul_blas(const StridedOperand& a, const StridedOperand& b, const Shape& batch,
                 const Tensor& out) {
  const int64_t m = a.view.size(-2), k = a.view.size(-1), n = b.view.size(-1);
  const T* pa = static_cast<const T*>(a.view.data_ptr());
  const T* pb = static_cast<const T*>(b.view.data_ptr());
  T* pc = out.data<T>();
  const int lda = blas_int(a.layout.ld, "lda"), ldb = blas_int(b.layout.ld, "ldb");
  const int ni = blas_int(n, "N"), ki = blas_int(k, "K");
  const int64_t num_batches = shape_numel(batch);
  make_blas_single_threaded();

  const std::vector<int64_t> b_offsets = batch_offsets(b.view, batch);
  const bool b_shared =
      std::all_of(b_offsets.begin(), b_offsets.end(), [&](int64_t o) { return o == b_offsets[0]; });
  // A linear layer on [batch, seq, d]: one tall GEMM instead of many short ones.
  if (b_shared && batches_fold_into_rows(a, batch)) {
    const int rows = blas_int(num_batches * m, "batch*M");
    gemm_split<T>(threads_for(rows * n * k), false, b.layout.transposed, rows, ni, ki, pa, lda, pb,
                  ldb, pc, ni);
    return;
  }
  const std::vector<int64_t> a_offsets = batch_offsets(a.view, batch);
  const int mi = blas_int(m, "M");
  const int threads = threads_for(num_batches * m * n * k);
  if (num_batches >= threads) {
    // Whole GEMMs per thread (attention's batch x heads products).
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t i = 0; i < num_batches; ++i) {
      gemm(a.layout.transposed, b.layout.transposed, mi, ni, ki, pa + a_offsets[i], lda,
           pb + b_offsets[i], ldb, pc + i * m * n, ni);
    }
    return;
  }
  for (int64_t i = 0; i < num_batches; ++i) {
    gemm_split<T>(threads, a.layout.transposed, b.layout.transposed, mi, ni, ki, pa + a_offsets[i],
                  lda, pb + b_offsets[i], ldb, pc + i * m * n, ni);
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

  StridedOperand oa = strided_operand(la, batch);
  StridedOperand ob = strided_operand(lb, batch);
  if (a.dtype() == DType::f32) {
    matmul_blas<float>(oa, ob, batch, out);
  } else {
    matmul_blas<double>(oa, ob, batch, out);
  }
  return out;
}

}  // namespace t5zero::cpu
