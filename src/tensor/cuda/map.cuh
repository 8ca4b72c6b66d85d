// out[i] = f(in_0[i], in_1[i], ...) over one shape: the kernel behind every elementwise op and
// every copy. Contiguous operands take 4-element vector loads and stores (16 bytes for f32) when
// every pointer is aligned for them; anything else walks a StridedLayout.
#pragma once

#include <cuda/std/tuple>

#include <utility>

#include "tensor/cuda/kernel_common.cuh"

namespace t5zero::cuda {

constexpr int kVectorWidth = 4;

template <typename T>
struct alignas(sizeof(T) * kVectorWidth) Vector {
  T v[kVectorWidth];
};

// The input pointers; a kernel may take only one parameter pack, so they travel as one tuple.
template <typename... In>
using InputPointers = ::cuda::std::tuple<const In*...>;

template <typename Out, typename F, typename... In, size_t... I>
__device__ __forceinline__ void map_contiguous(int64_t n, bool vectorized, const F& f, Out* out,
                                               const InputPointers<In...>& in,
                                               std::index_sequence<I...>) {
  int64_t done = 0;
  if (vectorized) {
    const int64_t vectors = n / kVectorWidth;
    for (int64_t v = global_thread(); v < vectors; v += grid_threads()) {
      // Every operand's vector is loaded before the first use, so the loads are in flight together.
      const ::cuda::std::tuple<Vector<In>...> x{
          reinterpret_cast<const Vector<In>*>(::cuda::std::get<I>(in))[v]...};
      Vector<Out> o;
#pragma unroll
      for (int j = 0; j < kVectorWidth; ++j) o.v[j] = f(::cuda::std::get<I>(x).v[j]...);
      reinterpret_cast<Vector<Out>*>(out)[v] = o;
    }
    done = vectors * kVectorWidth;
  }
  for (int64_t i = done + global_thread(); i < n; i += grid_threads()) {
    out[i] = f(::cuda::std::get<I>(in)[i]...);
  }
}

template <typename Out, typename F, typename... In>
__global__ void map_contiguous_kernel(int64_t n, bool vectorized, F f, Out* out,
                                      InputPointers<In...> in) {
  map_contiguous<Out, F, In...>(n, vectorized, f, out, in, std::index_sequence_for<In...>{});
}

template <typename Out, typename F, typename... In, size_t... I>
__device__ __forceinline__ void map_strided(int64_t n,
                                            const StridedLayout<1 + sizeof...(In)>& layout,
                                            const F& f, Out* out, const InputPointers<In...>& in,
                                            std::index_sequence<I...>) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    int64_t off[1 + sizeof...(In)];
    layout.offsets(i, off);
    out[off[0]] = f(::cuda::std::get<I>(in)[off[I + 1]]...);
  }
}

template <typename Out, typename F, typename... In>
__global__ void map_strided_kernel(int64_t n, StridedLayout<1 + sizeof...(In)> layout, F f,
                                   Out* out, InputPointers<In...> in) {
  map_strided<Out, F, In...>(n, layout, f, out, in, std::index_sequence_for<In...>{});
}

inline bool vector_aligned(const void* p, size_t element_size) {
  return reinterpret_cast<uintptr_t>(p) % (element_size * kVectorWidth) == 0;
}

// One `const Tensor&` parameter per element type in a pack.
template <typename>
using TensorOf = const Tensor&;

// Writes f over `out`'s shape; each input is already expanded to that shape. `out` may be a
// strided view (copy_ into a slice).
template <typename Out, typename... In, typename F>
void launch_map(const char* name, const Tensor& out, F f, TensorOf<In>... in) {
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(out.device());
  cudaStream_t stream = stream_of(out);
  Out* po = static_cast<Out*>(out.data_ptr());
  const InputPointers<In...> pointers{static_cast<const In*>(in.data_ptr())...};
  if (out.is_contiguous() && (in.is_contiguous() && ...)) {
    const bool vectorized =
        vector_aligned(po, sizeof(Out)) && (vector_aligned(in.data_ptr(), sizeof(In)) && ...);
    const int64_t items = vectorized ? (n + kVectorWidth - 1) / kVectorWidth : n;
    map_contiguous_kernel<Out, F, In...>
        <<<blocks_for(items), kThreads, 0, stream>>>(n, vectorized, f, po, pointers);
  } else {
    const auto layout = make_layout<1 + sizeof...(In)>(
        out.shape(), std::array<const Shape*, 1 + sizeof...(In)>{&out.strides(), &in.strides()...});
    map_strided_kernel<Out, F, In...>
        <<<blocks_for(n), kThreads, 0, stream>>>(n, layout, f, po, pointers);
  }
  T5_CUDA_CHECK_LAUNCH(name);
}

}  // namespace t5zero::cuda
