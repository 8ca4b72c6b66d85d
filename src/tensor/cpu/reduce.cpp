// Reductions on the CPU: sum, mean, amax and sum of squares over any set of dims.
//
// Every floating dtype accumulates in double: the CPU backend is the reference the CUDA backend
// is measured against, so it should be the more exact side, and the cost is invisible next to
// memory traffic. Integer sums accumulate in int64 and return i64, as torch.sum does. The order
// of accumulation depends only on the shapes (fixed-size chunks, combined in order), never on the
// thread count, so results are the same bit for bit on every machine.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "tensor/cpu/cpu_ops.h"
#include "tensor/cpu/strided_loop.h"
#include "tensor/op_checks.h"
#include "tensor/reduction_plan.h"

namespace t5zero::cpu {

namespace {

// Reduced elements summed by one task before partial results are combined.
constexpr int64_t kReduceChunk = 16384;
// Outputs one task accumulates side by side when the reduced dims are the outer ones.
constexpr int64_t kOutputBlock = 4096;

// Walks the offsets of a (sub-)shape's elements in row-major order, starting at linear index
// `begin`; an odometer, so each step costs an add and a compare.
class StridedCursor {
 public:
  StridedCursor(const Shape& shape, const Shape& strides, int64_t begin)
      : shape_(shape), strides_(strides), index_(shape.size(), 0) {
    if (shape_numel(shape_) == 0) return;  // nothing to walk
    for (size_t d = shape_.size(); d-- > 0;) {
      index_[d] = begin % shape_[d];
      begin /= shape_[d];
      offset_ += index_[d] * strides_[d];
    }
  }
  int64_t offset() const { return offset_; }
  void next() {
    for (size_t d = shape_.size(); d-- > 0;) {
      offset_ += strides_[d];
      if (++index_[d] < shape_[d]) return;
      offset_ -= index_[d] * strides_[d];
      index_[d] = 0;
    }
  }

 private:
  const Shape& shape_;
  const Shape& strides_;
  Shape index_;
  int64_t offset_ = 0;
};

// Runs body(begin, end) over [0, n) split into one contiguous range per thread.
template <typename Body>
void parallel_ranges(int64_t n, int64_t work, Body&& body) {
  if (work < kParallelGrain || n < 2) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t tid = omp_get_thread_num();
    const int64_t begin = n * tid / threads;
    const int64_t end = n * (tid + 1) / threads;
    if (begin < end) body(begin, end);
  }
}

struct SumOp {
  template <typename A>
  static A init() {
    return A(0);
  }
  template <typename A>
  static A add(A acc, A v) {
    return acc + v;
  }
  template <typename A>
  static A combine(A x, A y) {
    return x + y;
  }
};

struct SumSquaresOp : SumOp {
  template <typename A>
  static A add(A acc, A v) {
    return acc + v * v;
  }
};

// NaN wins, as torch.amax.
struct MaxOp {
  template <typename A>
  static A init() {
    if constexpr (std::is_floating_point_v<A>) {
      return -std::numeric_limits<A>::infinity();
    } else {
      return std::numeric_limits<A>::lowest();
    }
  }
  template <typename A>
  static A add(A acc, A v) {
    if constexpr (std::is_floating_point_v<A>) {
      if (std::isnan(acc) || std::isnan(v)) return std::isnan(acc) ? acc : v;
    }
    return v > acc ? v : acc;
  }
  template <typename A>
  static A combine(A x, A y) {
    return add(x, y);
  }
};

// The accumulators of every output element, in the output's row-major order.
template <typename Op, typename A, typename T>
std::vector<A> accumulate(const Tensor& a, const ReductionPlan& plan) {
  const T* x = a.data<T>();
  const int64_t work = plan.outputs * plan.count;
  std::vector<A> acc(plan.outputs, Op::template init<A>());
  if (reduces_outer_dims(plan)) {
    const int64_t blocks = (plan.outputs + kOutputBlock - 1) / kOutputBlock;
    parallel_ranges(blocks, work, [&](int64_t first, int64_t last) {
      for (int64_t block = first; block < last; ++block) {
        const int64_t begin = block * kOutputBlock;
        const int64_t end = std::min(plan.outputs, begin + kOutputBlock);
        StridedCursor r(plan.reduced_shape, plan.reduced_strides, 0);
        for (int64_t i = 0; i < plan.count; ++i, r.next()) {
          StridedCursor k(plan.kept_shape, plan.kept_strides, begin);
          for (int64_t m = begin; m < end; ++m, k.next()) {
            acc[m] = Op::add(acc[m], static_cast<A>(load(x[r.offset() + k.offset()])));
          }
        }
      }
    });
    return acc;
  }
  // Inner reduction: each output's elements are split into fixed chunks (tasks), summed in
  // parallel and then combined in chunk order.
  const int64_t chunks = std::max<int64_t>(1, (plan.count + kReduceChunk - 1) / kReduceChunk);
  std::vector<A> partial(plan.outputs * chunks);
  parallel_ranges(plan.outputs * chunks, work, [&](int64_t first, int64_t last) {
    int64_t m = first / chunks;
    StridedCursor k(plan.kept_shape, plan.kept_strides, m);
    for (int64_t task = first; task < last; ++task) {
      for (; m < task / chunks; ++m) k.next();
      const int64_t begin = (task % chunks) * kReduceChunk;
      const int64_t end = std::min(plan.count, begin + kReduceChunk);
      StridedCursor r(plan.reduced_shape, plan.reduced_strides, begin);
      A sum = Op::template init<A>();
      for (int64_t i = begin; i < end; ++i, r.next()) {
        sum = Op::add(sum, static_cast<A>(load(x[k.offset() + r.offset()])));
      }
      partial[task] = sum;
    }
  });
  for (int64_t m = 0; m < plan.outputs; ++m) {
    for (int64_t c = 0; c < chunks; ++c) acc[m] = Op::combine(acc[m], partial[m * chunks + c]);
  }
  return acc;
}

// Accumulator type: double for floating dtypes, int64 for integers.
template <typename T>
using AccumulatorOf =
    std::conditional_t<std::is_floating_point_v<typename ComputeType<T>::type>, double, int64_t>;

// Reduces with Op, then writes finish(acc) as Out into a new tensor of out_dtype.
template <typename Op, typename T, typename Out, typename Finish>
Tensor reduce_typed(const Tensor& a, const ReductionPlan& plan, DType out_dtype, Finish finish) {
  using A = AccumulatorOf<T>;
  std::vector<A> acc = accumulate<Op, A, T>(a, plan);
  Tensor out = Tensor::empty(plan.out_shape, out_dtype);
  Out* o = out.data<Out>();
  for (int64_t m = 0; m < plan.outputs; ++m) o[m] = store<Out>(finish(acc[m]));
  return out;
}

using op_checks::check_floating;

template <typename A>
A identity(A v) {
  return v;
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  ReductionPlan plan = plan_reduction("sum", a, dims, keepdim);
  if (is_floating(a.dtype())) {
    return T5_DISPATCH_FLOATING(a.dtype(), "sum", [&] {
      return reduce_typed<SumOp, scalar_t, scalar_t>(a, plan, a.dtype(), identity<double>);
    });
  }
  return T5_DISPATCH_ALL(a.dtype(), "sum", [&] {
    return reduce_typed<SumOp, scalar_t, int64_t>(a, plan, DType::i64, identity<int64_t>);
  });
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_floating("mean", a);
  ReductionPlan plan = plan_reduction("mean", a, dims, keepdim);
  const double count = static_cast<double>(plan.count);  // 0 gives NaN, as torch.mean
  return T5_DISPATCH_FLOATING(a.dtype(), "mean", [&] {
    return reduce_typed<SumOp, scalar_t, scalar_t>(a, plan, a.dtype(),
                                                   [count](double s) { return s / count; });
  });
}

Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  ReductionPlan plan = plan_reduction("amax", a, dims, keepdim);
  T5_CHECK(plan.count > 0, "amax: reducing ", shape_str(a.shape()),
           " folds zero elements; the maximum of nothing is undefined");
  return T5_DISPATCH_ALL(a.dtype(), "amax", [&] {
    using A = AccumulatorOf<scalar_t>;
    return reduce_typed<MaxOp, scalar_t, scalar_t>(a, plan, a.dtype(), identity<A>);
  });
}

Tensor sum_squares(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_floating("sum_squares", a);
  ReductionPlan plan = plan_reduction("sum_squares", a, dims, keepdim);
  return T5_DISPATCH_FLOATING(a.dtype(), "sum_squares", [&] {
    return reduce_typed<SumSquaresOp, scalar_t, scalar_t>(a, plan, a.dtype(), identity<double>);
  });
}

}  // namespace t5zero::cpu
