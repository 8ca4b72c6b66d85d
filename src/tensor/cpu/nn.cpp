// Softmax, log-softmax, cross-entropy and T5's RMSNorm over the last dim, with their backwards.
// Statistics run in ComputeType (f32 for f32 and bf16, f64 for f64); results keep the input dtype.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/cpu/cpu_ops.h"
#include "tensor/cpu/strided_loop.h"
#include "tensor/cpu/vector_math.h"
#include "tensor/op_checks.h"

namespace t5zero::cpu {

namespace {

using op_checks::check_floating;
using op_checks::check_same;
using op_checks::Rows;
using op_checks::rows_of;

// body(i) for i in [begin, end): the loop the row kernels are inlined into (their lambdas are
// always_inline for that), compiled for each vector width.
template <typename Body>
T5_VECTOR_CLONES void run_indices(int64_t begin, int64_t end, const Body& body) {
  for (int64_t i = begin; i < end; ++i) body(i);
}

// Runs body(i) for i in [0, count), split across threads when work (elements) is enough.
template <typename Body>
void for_each_index(int64_t count, int64_t work, const Body& body) {
  if (work < kParallelGrain) {
    run_indices(0, count, body);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), tid = omp_get_thread_num();
    run_indices(count * tid / threads, count * (tid + 1) / threads, body);
  }
}

// Runs body(row) for every row, in parallel when there is enough work.
template <typename Body>
void for_each_row(const Rows& r, const Body& body) {
  for_each_index(r.rows, r.rows * r.cols, body);
}

// A float row of `cols` for the exponentials of a bf16 row, one per thread, reused across rows.
float* row_buffer(int64_t cols) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < cols) buffer.resize(static_cast<size_t>(cols));
  return buffer.data();
}

// Where a row's exponentials e^(x − max) go before normalising: the output row itself when it
// holds the compute type (f32, f64), else a float buffer (bf16 rounds only the final value).
template <typename T, typename C>
C* exp_row(T* out_row, int64_t cols) {
  if constexpr (std::is_same_v<T, C>) {
    return out_row;
  } else {
    return row_buffer(cols);
  }
}

// Max-subtracted softmax (log_space = false) or log-softmax (true) of every row.
template <typename T>
Tensor softmax_rows(const Tensor& x_in, bool log_space) {
  using C = typename ComputeType<T>::type;
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const Rows r = rows_of(x);
  const T* px = x.data<T>();
  T* py = y.data<T>();
  for_each_row(
      r, [&](int64_t row) __attribute__((always_inline)) {
        const T* xr = px + row * r.cols;
        T* yr = py + row * r.cols;
        const C max = lane_max<C>(r.cols, [&](int64_t j) { return C(load(xr[j])); });
        if (log_space) {
          const C sum =
              lane_sum<C>(r.cols, [&](int64_t j) { return exp_of(C(load(xr[j])) - max); });
          const C log_sum = std::log(sum);
          for (int64_t j = 0; j < r.cols; ++j) yr[j] = store<T>(load(xr[j]) - max - log_sum);
          return;
        }
        C* e = exp_row<T, C>(yr, r.cols);
        for (int64_t j = 0; j < r.cols; ++j) e[j] = exp_of(C(load(xr[j])) - max);
        const C inv = C(1) / lane_sum<C>(r.cols, [&](int64_t j) { return e[j]; });
        for (int64_t j = 0; j < r.cols; ++j) yr[j] = store<T>(e[j] * inv);
      });
  return y;
}

// dx = y·(g − Σ g·y) for softmax; dx = g − exp(y)·Σ g for log-softmax.
template <typename T>
Tensor softmax_rows_backward(const Tensor& grad_in, const Tensor& y_in, bool log_space) {
  using C = typename ComputeType<T>::type;
  Tensor g = grad_in.contiguous(), y = y_in.contiguous();
  Tensor dx = Tensor::empty(y.shape(), y.dtype());
  const Rows r = rows_of(y);
  const T* pg = g.data<T>();
  const T* py = y.data<T>();
  T* pd = dx.data<T>();
  for_each_row(
      r, [&](int64_t row) __attribute__((always_inline)) {
        const T* gr = pg + row * r.cols;
        const T* yr = py + row * r.cols;
        T* dr = pd + row * r.cols;
        if (log_space) {
          const C sum = lane_sum<C>(r.cols, [&](int64_t j) { return C(load(gr[j])); });
          for (int64_t j = 0; j < r.cols; ++j) {
            dr[j] = store<T>(load(gr[j]) - exp_of(C(load(yr[j]))) * sum);
          }
        } else {
          const C dot =
              lane_sum<C>(r.cols, [&](int64_t j) { return C(load(gr[j]) * load(yr[j])); });
          for (int64_t j = 0; j < r.cols; ++j) dr[j] = store<T>(load(yr[j]) * (load(gr[j]) - dot));
        }
      });
  return dx;
}

// Targets as i64, checked against [0, V) unless equal to ignore_index; returns the count kept.
int64_t checked_targets(const char* op, const Tensor& logits, const Tensor& targets,
                        int64_t ignore_index, std::vector<int64_t>& out) {
  T5_CHECK(logits.dim() == 2, op, ": logits must be [N, V], got ", shape_str(logits.shape()));
  T5_CHECK(targets.dtype() == DType::i32 || targets.dtype() == DType::i64, op,
           ": targets must be i32 or i64, got ", dtype_name(targets.dtype()));
  T5_CHECK(targets.dim() == 1 && targets.size(0) == logits.size(0), op, ": targets must be [",
           logits.size(0), "] for logits ", shape_str(logits.shape()), ", got ",
           shape_str(targets.shape()));
  out = targets.to_vector<int64_t>();
  const int64_t vocab = logits.size(1);
  int64_t kept = 0;
  for (size_t row = 0; row < out.size(); ++row) {
    const int64_t t = out[row];
    if (t == ignore_index) continue;
    T5_CHECK(t >= 0 && t < vocab, op, ": target ", t, " at row ", row, " is outside [0, ", vocab,
             ") and is not ignore_index (", ignore_index, ")");
    ++kept;
  }
  return kept;
}

// max and Σ e^(x − max) of one row of logits.
template <typename T, typename C = typename ComputeType<T>::type>
[[gnu::always_inline]] inline std::pair<C, C> logsumexp_parts(const T* xr, int64_t cols) {
  const C max = lane_max<C>(cols, [&](int64_t j) { return C(load(xr[j])); });
  const C sum = lane_sum<C>(cols, [&](int64_t j) { return exp_of(C(load(xr[j])) - max); });
  return {max, sum};
}

template <typename T>
Tensor cross_entropy_typed(const Tensor& logits_in, const std::vector<int64_t>& targets,
                           int64_t ignore_index, int64_t kept) {
  using C = typename ComputeType<T>::type;
  Tensor logits = logits_in.contiguous();
  const Rows r{logits.size(0), logits.size(1)};
  const T* px = logits.data<T>();
  // Per-row losses summed afterwards in row order, so the result does not depend on threads.
  std::vector<double> row_loss(static_cast<size_t>(r.rows), 0.0);
  for_each_row(
      r, [&](int64_t row) __attribute__((always_inline)) {
        const int64_t t = targets[row];
        if (t == ignore_index) return;
        const T* xr = px + row * r.cols;
        const auto [max, sum] = logsumexp_parts<T>(xr, r.cols);
        row_loss[row] = static_cast<double>(max + std::log(sum) - C(load(xr[t])));
      });
  double total = 0;
  for (double l : row_loss) total += l;
  Tensor loss = Tensor::zeros({}, logits.dtype());
  // Every target ignored: 0, where torch gives 0/0 = NaN; a NaN would stop training for a batch
  // that carries no signal.
  loss.data<T>()[0] = store<T>(kept == 0 ? 0.0 : total / static_cast<double>(kept));
  return loss;
}

// d loss / d logits = (softmax(row) − onehot(target)) · grad / kept; ignored rows get 0.
template <typename T>
Tensor cross_entropy_backward_typed(double grad, const Tensor& logits_in,
                                    const std::vector<int64_t>& targets, int64_t ignore_index,
                                    int64_t kept) {
  using C = typename ComputeType<T>::type;
  Tensor logits = logits_in.contiguous();
  Tensor dx = Tensor::empty(logits.shape(), logits.dtype());  // every row written below
  const Rows r{logits.size(0), logits.size(1)};
  const T* px = logits.data<T>();
  T* pd = dx.data<T>();
  const C scale = kept == 0 ? C(0) : static_cast<C>(grad / static_cast<double>(kept));
  for_each_row(
      r, [&](int64_t row) __attribute__((always_inline)) {
        const int64_t t = targets[row];
        T* dr = pd + row * r.cols;
        if (t == ignore_index) {
          std::fill(dr, dr + r.cols, store<T>(C(0)));
          return;
        }
        const T* xr = px + row * r.cols;
        const C max = lane_max<C>(r.cols, [&](int64_t j) { return C(load(xr[j])); });
        C* e = exp_row<T, C>(dr, r.cols);
        for (int64_t j = 0; j < r.cols; ++j) e[j] = exp_of(C(load(xr[j])) - max);
        const C inv = C(1) / lane_sum<C>(r.cols, [&](int64_t j) { return e[j]; });
        const C target_p = e[t] * inv;
        for (int64_t j = 0; j < r.cols; ++j) dr[j] = store<T>(e[j] * inv * scale);
        dr[t] = store<T>((target_p - C(1)) * scale);
      });
  return dx;
}

void check_rms_norm(const char* op, const Tensor& x, const Tensor& weight, double eps) {
  check_floating(op, x, "x");
  T5_CHECK(x.dim() >= 1, op, ": x must have at least 1 dim");
  T5_CHECK(weight.dim() == 1 && weight.size(0) == x.shape().back(), op, ": weight must be [",
           x.shape().back(), "] for x ", shape_str(x.shape()), ", got ", shape_str(weight.shape()));
  T5_CHECK(weight.dtype() == x.dtype(), op, ": x is ", dtype_name(x.dtype()), " but weight is ",
           dtype_name(weight.dtype()));
  T5_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
}

// rsqrt(mean(x²) + eps) of one row. As HF T5LayerNorm the statistic is f32 for f32 and bf16
// inputs (x.float()); f64 keeps f64 so gradients can be checked by finite differences. The sum of
// squares accumulates in double, then rounds to the statistic's type.
template <typename T>
typename ComputeType<T>::type inverse_rms(const T* xr, int64_t cols, double eps) {
  using C = typename ComputeType<T>::type;
  const double sum_squares = lane_sum<double>(cols, [&](int64_t j) {
    const C v = load(xr[j]);
    return static_cast<double>(v * v);
  });
  const C variance = static_cast<C>(sum_squares / static_cast<double>(cols));
  return C(1) / std::sqrt(variance + static_cast<C>(eps));
}

template <typename T>
Tensor rms_norm_typed(const Tensor& x_in, const Tensor& weight_in, double eps) {
  using C = typename ComputeType<T>::type;
  Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const Rows r = rows_of(x);
  const T* px = x.data<T>();
  const T* pw = weight.data<T>();
  T* py = y.data<T>();
  for_each_row(
      r, [&](int64_t row) __attribute__((always_inline)) {
        const T* xr = px + row * r.cols;
        T* yr = py + row * r.cols;
        const C inv = inverse_rms(xr, r.cols, eps);
        for (int64_t j = 0; j < r.cols; ++j) {
          // As HF T5LayerNorm: the normalised value is cast to the weight's dtype (a bf16 rounding
          // for bf16 weights) before the weight multiply, which rounds again.
          const C normed = load(store<T>(load(xr[j]) * inv));
          yr[j] = store<T>(load(pw[j]) * normed);
        }
      });
  return y;
}

// Rows per partial sum of grad_weight: fixed, so the summation order is the same on any thread
// count and the gradient is bit-reproducible.
constexpr int64_t kWeightGradRowBlock = 64;

template <typename T>
RmsNormGrads rms_norm_backward_typed(const Tensor& grad_in, const Tensor& x_in,
                                     const Tensor& weight_in, double eps) {
  using C = typename ComputeType<T>::type;
  Tensor g = grad_in.contiguous(), x = x_in.contiguous(), weight = weight_in.contiguous();
  Tensor dx = Tensor::empty(x.shape(), x.dtype());
  const Rows r = rows_of(x);
  const T* pg = g.data<T>();
  const T* px = x.data<T>();
  const T* pw = weight.data<T>();
  T* pdx = dx.data<T>();
  const int64_t blocks = (r.rows + kWeightGradRowBlock - 1) / kWeightGradRowBlock;
  std::vector<double> partial(static_cast<size_t>(blocks * r.cols), 0.0);
  for_each_index(
      blocks, r.rows * r.cols, [&](int64_t block) __attribute__((always_inline)) {
        double* acc = partial.data() + block * r.cols;
        const int64_t end = std::min(r.rows, (block + 1) * kWeightGradRowBlock);
        for (int64_t row = block * kWeightGradRowBlock; row < end; ++row) {
          const T* gr = pg + row * r.cols;
          const T* xr = px + row * r.cols;
          T* dr = pdx + row * r.cols;
          const C inv = inverse_rms(xr, r.cols, eps);
          // y = w · cast(n), n = x · inv. d/dw uses the cast value, as torch's mul backward does.
          // Σ_j dL/dn_j · n_j
          const C dot = lane_sum<C>(r.cols, [&](int64_t j) {
            return C(load(gr[j]) * load(pw[j])) * C(load(xr[j]) * inv);
          });
          for (int64_t j = 0; j < r.cols; ++j) {
            acc[j] += static_cast<double>(load(gr[j]) * load(store<T>(load(xr[j]) * inv)));
          }
          const C mean_dot = dot / static_cast<C>(r.cols);
          // dL/dx = inv · (dL/dn − n · mean(dL/dn · n))
          for (int64_t j = 0; j < r.cols; ++j) {
            const C n = load(xr[j]) * inv;
            const C grad_n = load(gr[j]) * load(pw[j]);
            dr[j] = store<T>(inv * (grad_n - n * mean_dot));
          }
        }
      });
  Tensor dw = Tensor::zeros(weight.shape(), weight.dtype());
  T* pdw = dw.data<T>();
  for (int64_t j = 0; j < r.cols; ++j) {
    double total = 0;
    for (int64_t block = 0; block < blocks; ++block) total += partial[block * r.cols + j];
    pdw[j] = store<T>(total);
  }
  return RmsNormGrads{dx, dw};
}

}  // namespace

Tensor softmax(const Tensor& x) {
  check_floating("softmax", x, "x");
  return T5_DISPATCH_FLOATING(x.dtype(), "softmax",
                              [&] { return softmax_rows<scalar_t>(x, false); });
}

Tensor softmax_backward(const Tensor& grad_y, const Tensor& y) {
  check_floating("softmax_backward", y, "y");
  check_same("softmax_backward", grad_y, "grad_y", y, "y");
  return T5_DISPATCH_FLOATING(y.dtype(), "softmax_backward",
                              [&] { return softmax_rows_backward<scalar_t>(grad_y, y, false); });
}

Tensor log_softmax(const Tensor& x) {
  check_floating("log_softmax", x, "x");
  return T5_DISPATCH_FLOATING(x.dtype(), "log_softmax",
                              [&] { return softmax_rows<scalar_t>(x, true); });
}

Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y) {
  check_floating("log_softmax_backward", y, "y");
  check_same("log_softmax_backward", grad_y, "grad_y", y, "y");
  return T5_DISPATCH_FLOATING(y.dtype(), "log_softmax_backward",
                              [&] { return softmax_rows_backward<scalar_t>(grad_y, y, true); });
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index) {
  check_floating("cross_entropy", logits, "logits");
  std::vector<int64_t> t;
  const int64_t kept = checked_targets("cross_entropy", logits, targets, ignore_index, t);
  return T5_DISPATCH_FLOATING(logits.dtype(), "cross_entropy", [&] {
    return cross_entropy_typed<scalar_t>(logits, t, ignore_index, kept);
  });
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits, const Tensor& targets,
                              int64_t ignore_index) {
  check_floating("cross_entropy_backward", logits, "logits");
  T5_CHECK(grad_loss.numel() == 1, "cross_entropy_backward: grad_loss must be a scalar, got ",
           shape_str(grad_loss.shape()));
  std::vector<int64_t> t;
  const int64_t kept = checked_targets("cross_entropy_backward", logits, targets, ignore_index, t);
  const double grad = grad_loss.item();
  return T5_DISPATCH_FLOATING(logits.dtype(), "cross_entropy_backward", [&] {
    return cross_entropy_backward_typed<scalar_t>(grad, logits, t, ignore_index, kept);
  });
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  check_rms_norm("rms_norm", x, weight, eps);
  return T5_DISPATCH_FLOATING(x.dtype(), "rms_norm",
                              [&] { return rms_norm_typed<scalar_t>(x, weight, eps); });
}

RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                               double eps) {
  check_rms_norm("rms_norm_backward", x, weight, eps);
  check_same("rms_norm_backward", grad_y, "grad_y", x, "x");
  return T5_DISPATCH_FLOATING(x.dtype(), "rms_norm_backward", [&] {
    return rms_norm_backward_typed<scalar_t>(grad_y, x, weight, eps);
  });
}

}  // namespace t5zero::cpu
