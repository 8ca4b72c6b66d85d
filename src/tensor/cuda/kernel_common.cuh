// What every CUDA kernel file shares: element types and their compute types, strided operand
// layouts, launch shapes and block reductions. Only .cu files include this.
#pragma once

#include <cuda_runtime.h>
#include <cuda/std/limits>

#include <array>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tensor/bf16.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/stream.h"
#include "tensor/tensor.h"

namespace t5zero::cuda {

// ---- element types -----------------------------------------------------------------------------
// As the CPU backend (dtype.h): bf16 computes in float and rounds each result once; every other
// type computes in itself.
template <typename T>
struct Compute {
  using type = T;
};
template <>
struct Compute<bf16> {
  using type = float;
};
template <typename T>
using compute_t = typename Compute<T>::type;

template <typename T>
__host__ __device__ __forceinline__ compute_t<T> load_value(T v) {
  if constexpr (std::is_same_v<T, bf16>) {
    return to_float(v);
  } else {
    return v;
  }
}

template <typename T, typename C>
__host__ __device__ __forceinline__ T store_value(C v) {
  if constexpr (std::is_same_v<T, bf16>) {
    return to_bf16(static_cast<float>(v));
  } else {
    return static_cast<T>(v);
  }
}

// Floating sums accumulate in double, as the CPU backend's reductions do; integers in int64.
template <typename T>
using accumulate_t = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;

// ---- strided operands --------------------------------------------------------------------------
constexpr int kMaxDims = 8;

// N operands walked over one shape, each with its own element strides (0 = broadcast). Adjacent
// dims that are contiguous in every operand are merged, so most layouts have rank 1 or 2.
template <int N>
struct StridedLayout {
  int rank = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};

  // Element offsets of every operand for the row-major linear index `linear`.
  __device__ __forceinline__ void offsets(int64_t linear, int64_t (&off)[N]) const {
#pragma unroll
    for (int i = 0; i < N; ++i) off[i] = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t size = sizes[d];
      const int64_t index = linear % size;
      linear /= size;
#pragma unroll
      for (int i = 0; i < N; ++i) off[i] += index * strides[i][d];
    }
  }
};

// The layout of operands whose strides (each of `shape`'s rank) walk `shape`.
template <int N>
StridedLayout<N> make_layout(const Shape& shape, const std::array<const Shape*, N>& strides) {
  StridedLayout<N> layout;
  // Drop size-1 dims, then merge dim d into d+1 when every operand steps over d+1 exactly.
  int64_t sizes[64];
  int64_t st[N][64];
  int rank = 0;
  T5_CHECK(shape.size() <= 64, "cuda: rank ", shape.size(), " is too large");
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = rank > 0;
    for (int i = 0; i < N && merge; ++i) {
      merge = st[i][rank - 1] == (*strides[i])[d] * shape[d];
    }
    if (merge) {
      sizes[rank - 1] *= shape[d];
      for (int i = 0; i < N; ++i) st[i][rank - 1] = (*strides[i])[d];
    } else {
      sizes[rank] = shape[d];
      for (int i = 0; i < N; ++i) st[i][rank] = (*strides[i])[d];
      ++rank;
    }
  }
  T5_CHECK(rank <= kMaxDims, "cuda: a strided layout of shape ", shape_str(shape), " needs ", rank,
           " dims after merging; at most ", kMaxDims, " are supported (make it contiguous first)");
  layout.rank = rank;
  for (int d = 0; d < rank; ++d) {
    layout.sizes[d] = sizes[d];
    for (int i = 0; i < N; ++i) layout.strides[i][d] = st[i][d];
  }
  return layout;
}

// ---- launches ----------------------------------------------------------------------------------
constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items: enough to fill the GPU, no more than needed.
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  constexpr int64_t kMaxBlocks = 65535LL * 8;
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

inline cudaStream_t stream_of(const Tensor& t) {
  return current_stream(t.device().index);
}

// The tensor's device, checked to be a GPU: the ops call this first.
inline Device gpu_of(const char* op, const Tensor& t) {
  T5_CHECK(t.defined() && t.device().is_cuda(), op, ": expected a tensor on a CUDA device, got ",
           t.defined() ? t.device().str() : std::string("an undefined tensor"));
  return t.device();
}

__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// ---- block reductions --------------------------------------------------------------------------
// A fixed tree over a fixed thread count: the same inputs give the same bits on every run.
template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <typename A>
__device__ __forceinline__ A warp_max(A v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    const A other = __shfl_xor_sync(0xffffffffu, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

// Sum (or max) over the block; every thread receives the result. blockDim.x is a multiple of 32
// and at most 1024; `scratch` holds 32 values.
template <typename A>
__device__ A block_sum(A v, A* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / 32;
  v = lane < warps ? scratch[lane] : A(0);
  return warp_sum(v);
}

template <typename A>
__device__ A block_max(A v, A* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / 32;
  v = lane < warps ? scratch[lane] : -::cuda::std::numeric_limits<A>::infinity();
  return warp_max(v);
}

// Threads per block for one block per row of `cols` elements: a warp for short rows, up to 1024.
inline int row_threads(int64_t cols) {
  int threads = 32;
  while (threads < 1024 && threads * 4 < cols) threads *= 2;
  return threads;
}

}  // namespace t5zero::cuda
