// Strided copy with dtype conversion (contiguous(), clone(), to(dtype), copy_(), permuting
// copies), fill, and copies between the host and GPUs.
#include "tensor/cpu/cpu_ops.h"
#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/map.cuh"

namespace t5zero::cuda {

namespace {

template <typename Dst, typename Src>
struct Convert {
  __device__ Dst operator()(Src v) const { return store_value<Dst>(load_value(v)); }
};

template <typename T>
struct Constant {
  T value;
  __device__ T operator()() const { return value; }
};

template <typename Dst, typename Src>
void copy_typed(const Tensor& dst, const Tensor& src) {
  const bool same_bytes = std::is_same_v<Dst, Src> && dst.is_contiguous() && src.is_contiguous();
  if (same_bytes) {
    DeviceGuard guard(dst.device());
    T5_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(),
                                  static_cast<size_t>(dst.numel()) * sizeof(Dst),
                                  cudaMemcpyDeviceToDevice, stream_of(dst)));
    return;
  }
  launch_map<Dst, Src>("copy", dst, Convert<Dst, Src>{}, src);
}

template <typename Dst>
void copy_to(const Tensor& dst, const Tensor& src) {
  T5_DISPATCH_ALL(src.dtype(), "copy", [&] { copy_typed<Dst, scalar_t>(dst, src); });
}

}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  T5_CHECK(dst.shape() == src.shape(), "copy: destination ", shape_str(dst.shape()), " and source ",
           shape_str(src.shape()), " differ");
  T5_CHECK(dst.device() == src.device(), "copy: destination on ", dst.device().str(),
           " and source on ", src.device().str(), "; use copy_across_devices");
  gpu_of("copy", dst);
  if (dst.numel() == 0) return;
  T5_DISPATCH_ALL(dst.dtype(), "copy", [&] { copy_to<scalar_t>(dst, src); });
}

void fill(const Tensor& dst, double value) {
  gpu_of("fill", dst);
  if (dst.numel() == 0) return;
  T5_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    // Converted on the host exactly as the CPU backend converts it.
    const scalar_t v = store_value<scalar_t>(value);
    launch_map<scalar_t>("fill", dst, Constant<scalar_t>{v});
  });
}

// Bytes move only between contiguous buffers of one dtype; strides and dtype conversion happen on
// whichever side has them: the destination's dtype is reached before the transfer (on the
// source's side) and the destination's strides after it (on the destination's side).
void copy_across_devices(const Tensor& dst, const Tensor& src) {
  T5_CHECK(dst.shape() == src.shape(), "copy: destination ", shape_str(dst.shape()), " and source ",
           shape_str(src.shape()), " differ");
  if (dst.numel() == 0) return;
  const Tensor staged_src = src.to(dst.dtype()).contiguous();
  const bool direct = dst.is_contiguous();
  const Tensor landing = direct ? dst : Tensor::empty(dst.shape(), dst.dtype(), dst.device());
  const size_t bytes = static_cast<size_t>(dst.numel()) * dtype_size(dst.dtype());
  // The transfer runs on the GPU side's current stream, after the work already queued there.
  const Device gpu = dst.device().is_cuda() ? dst.device() : src.device();
  if (src.device().is_cuda() && src.device() != gpu) {
    DeviceGuard source_guard(src.device());  // another GPU's queued work must finish first
    T5_CUDA_CHECK(cudaStreamSynchronize(current_stream(src.device().index)));
  }
  DeviceGuard guard(gpu);
  cudaStream_t stream = current_stream(gpu.index);
  T5_CUDA_CHECK(
      cudaMemcpyAsync(landing.data_ptr(), staged_src.data_ptr(), bytes, cudaMemcpyDefault, stream));
  if (!direct) {
    if (dst.device().is_cuda()) {
      copy(dst, landing);
    } else {
      T5_CUDA_CHECK(cudaStreamSynchronize(stream));
      cpu::copy(dst, landing);
    }
  }
  // Returns when done: the host may read the destination or free the source at once.
  T5_CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace t5zero::cuda
