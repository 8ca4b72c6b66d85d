// Reductions on the GPU: sum, mean, amax and sum of squares over any set of dims, with the CPU
// backend's types (cpu/reduce.cpp): floating inputs accumulate in double and keep their dtype,
// integer sums accumulate in int64 and give i64.
//
// Deterministic without atomics: each output's elements are split into chunks whose count and
// length depend only on the shapes; each chunk is folded in a fixed order (a block tree, or one
// thread's sequence), and a last kernel combines each output's chunks in chunk order.
#include <algorithm>

#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/kernel_common.cuh"
#include "tensor/op_checks.h"
#include "tensor/reduction_plan.h"

namespace t5zero::cuda {

namespace {

struct SumOp {
  template <typename A>
  __device__ static A init() {
    return A(0);
  }
  template <typename A>
  __device__ static A add(A acc, A v) {
    return acc + v;
  }
  template <typename A>
  __device__ static A combine(A x, A y) {
    return x + y;
  }
};

struct SumSquaresOp : SumOp {
  template <typename A>
  __device__ static A add(A acc, A v) {
    return acc + v * v;
  }
};

// NaN wins, as torch.amax.
struct MaxOp {
  template <typename A>
  __device__ static A init() {
    if constexpr (std::is_floating_point_v<A>) {
      return -::cuda::std::numeric_limits<A>::infinity();
    } else {
      return ::cuda::std::numeric_limits<A>::lowest();
    }
  }
  template <typename A>
  __device__ static A add(A acc, A v) {
    if constexpr (std::is_floating_point_v<A>) {
      if (isnan(acc) || isnan(v)) return isnan(acc) ? acc : v;
    }
    return v > acc ? v : acc;
  }
  template <typename A>
  __device__ static A combine(A x, A y) {
    return add(x, y);
  }
};

// One strided walk; rank 1 (the common case after merging) needs no division.
struct Walk {
  StridedLayout<1> layout;
  __device__ __forceinline__ int64_t offset(int64_t linear) const {
    if (layout.rank == 1) return linear * layout.strides[0][0];
    int64_t off[1];
    layout.offsets(linear, off);
    return off[0];
  }
};

constexpr int kReduceThreads = 256;

// Block (m, c) folds chunk c of output m: threads stride through it, then a shared-memory tree.
template <typename Op, typename A, typename T>
__global__ void reduce_inner_kernel(const T* x, Walk kept, Walk reduced, int64_t count,
                                    int64_t chunk, int64_t chunks, A* partial) {
  __shared__ A shared[kReduceThreads];
  const int64_t m = blockIdx.x;
  const int64_t c = blockIdx.y;
  const int64_t base = kept.offset(m);
  const int64_t begin = c * chunk;
  const int64_t end = begin + chunk < count ? begin + chunk : count;
  A acc = Op::template init<A>();
  for (int64_t i = begin + threadIdx.x; i < end; i += kReduceThreads) {
    acc = Op::add(acc, static_cast<A>(load_value(x[base + reduced.offset(i)])));
  }
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kReduceThreads / 2; s > 0; s /= 2) {
    if (threadIdx.x < s)
      shared[threadIdx.x] = Op::combine(shared[threadIdx.x], shared[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[m * chunks + c] = shared[0];
}

// Thread m of chunk c folds output m's elements [c·chunk, (c+1)·chunk) in order.
template <typename Op, typename A, typename T>
__global__ void reduce_outer_kernel(const T* x, Walk kept, Walk reduced, int64_t outputs,
                                    int64_t count, int64_t chunk, int64_t chunks, A* partial) {
  const int64_t m = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (m >= outputs) return;
  const int64_t c = blockIdx.y;
  const int64_t base = kept.offset(m);
  const int64_t begin = c * chunk;
  const int64_t end = begin + chunk < count ? begin + chunk : count;
  A acc = Op::template init<A>();
  for (int64_t i = begin; i < end; ++i) {
    acc = Op::add(acc, static_cast<A>(load_value(x[base + reduced.offset(i)])));
  }
  partial[m * chunks + c] = acc;
}

enum class Finish { value, mean };

template <typename Op, typename A, typename Out>
__global__ void reduce_finish_kernel(const A* partial, int64_t outputs, int64_t chunks,
                                     Finish finish, double count, Out* out) {
  for (int64_t m = global_thread(); m < outputs; m += grid_threads()) {
    A acc = Op::template init<A>();
    for (int64_t c = 0; c < chunks; ++c) acc = Op::combine(acc, partial[m * chunks + c]);
    if (finish == Finish::mean) {
      out[m] = store_value<Out>(static_cast<double>(acc) / count);
    } else {
      out[m] = store_value<Out>(acc);
    }
  }
}

// Chunks per output: enough parallel work to fill the GPU, chunks long enough to be worth a
// block (inner) or a thread's loop (outer). A function of the shapes alone.
int64_t chunk_count(const ReductionPlan& plan, bool outer) {
  const int64_t target = outer ? 131072 : 1024;  // threads (outer) or blocks (inner) wanted
  const int64_t min_chunk = outer ? 64 : 4096;
  const int64_t by_work = (plan.count + min_chunk - 1) / min_chunk;
  const int64_t wanted = (target + plan.outputs - 1) / plan.outputs;
  return std::max<int64_t>(1, std::min({by_work, wanted, int64_t{65535}}));
}

template <typename Op, typename T, typename Out>
Tensor reduce_typed(const char* name, const Tensor& a, const ReductionPlan& plan, DType out_dtype,
                    Finish finish) {
  using A = accumulate_t<T>;
  Tensor out = Tensor::empty(plan.out_shape, out_dtype, a.device());
  if (plan.outputs == 0) return out;
  DeviceGuard guard(a.device());
  cudaStream_t stream = stream_of(a);
  const bool outer = reduces_outer_dims(plan);
  const int64_t chunks = chunk_count(plan, outer);
  const int64_t chunk = std::max<int64_t>(1, (plan.count + chunks - 1) / chunks);
  T5_CHECK(outer || plan.outputs <= 0x7fffffff, name, ": ", plan.outputs, " outputs exceed a grid");
  Tensor partial = Tensor::empty({plan.outputs * chunks},
                                 std::is_same_v<A, double> ? DType::f64 : DType::i64, a.device());
  A* pp = static_cast<A*>(partial.data_ptr());
  const Walk kept{make_layout<1>(plan.kept_shape, {&plan.kept_strides})};
  const Walk reduced{make_layout<1>(plan.reduced_shape, {&plan.reduced_strides})};
  const T* x = static_cast<const T*>(a.data_ptr());
  if (outer) {
    const dim3 grid(static_cast<unsigned>((plan.outputs + kReduceThreads - 1) / kReduceThreads),
                    static_cast<unsigned>(chunks));
    reduce_outer_kernel<Op, A, T><<<grid, kReduceThreads, 0, stream>>>(
        x, kept, reduced, plan.outputs, plan.count, chunk, chunks, pp);
  } else {
    const dim3 grid(static_cast<unsigned>(plan.outputs), static_cast<unsigned>(chunks));
    reduce_inner_kernel<Op, A, T>
        <<<grid, kReduceThreads, 0, stream>>>(x, kept, reduced, plan.count, chunk, chunks, pp);
  }
  T5_CUDA_CHECK_LAUNCH(name);
  reduce_finish_kernel<Op, A, Out><<<blocks_for(plan.outputs), kThreads, 0, stream>>>(
      pp, plan.outputs, chunks, finish, static_cast<double>(plan.count),
      static_cast<Out*>(out.data_ptr()));
  T5_CUDA_CHECK_LAUNCH(name);
  return out;
}

using op_checks::check_floating;

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  gpu_of("sum", a);
  const ReductionPlan plan = plan_reduction("sum", a, dims, keepdim);
  if (is_floating(a.dtype())) {
    return T5_DISPATCH_FLOATING(a.dtype(), "sum", [&] {
      return reduce_typed<SumOp, scalar_t, scalar_t>("sum", a, plan, a.dtype(), Finish::value);
    });
  }
  return T5_DISPATCH_ALL(a.dtype(), "sum", [&] {
    return reduce_typed<SumOp, scalar_t, int64_t>("sum", a, plan, DType::i64, Finish::value);
  });
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  gpu_of("mean", a);
  check_floating("mean", a);
  const ReductionPlan plan = plan_reduction("mean", a, dims, keepdim);
  return T5_DISPATCH_FLOATING(a.dtype(), "mean", [&] {
    return reduce_typed<SumOp, scalar_t, scalar_t>("mean", a, plan, a.dtype(), Finish::mean);
  });
}

Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  gpu_of("amax", a);
  const ReductionPlan plan = plan_reduction("amax", a, dims, keepdim);
  T5_CHECK(plan.count > 0, "amax: reducing ", shape_str(a.shape()),
           " folds zero elements; the maximum of nothing is undefined");
  return T5_DISPATCH_ALL(a.dtype(), "amax", [&] {
    return reduce_typed<MaxOp, scalar_t, scalar_t>("amax", a, plan, a.dtype(), Finish::value);
  });
}

Tensor sum_squares(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  gpu_of("sum_squares", a);
  check_floating("sum_squares", a);
  const ReductionPlan plan = plan_reduction("sum_squares", a, dims, keepdim);
  return T5_DISPATCH_FLOATING(a.dtype(), "sum_squares", [&] {
    return reduce_typed<SumSquaresOp, scalar_t, scalar_t>("sum_squares", a, plan, a.dtype(),
                                                          Finish::value);
  });
}

}  // namespace t5zero::cuda
