// The gated feed-forward activation of T5 v1.1 / FLAN (T5DenseGatedActDense):
// gelu_new(wi_0 x) * (wi_1 x), forward and backward, one pass each (fused.h has the exact math).
#include "tensor/cuda/fused.h"
#include "tensor/cuda/gelu.cuh"
#include "tensor/cuda/map.cuh"

namespace t5zero::cuda {

namespace {

template <typename T>
struct GatedGelu {
  __device__ T operator()(T h0, T h1) const {
    const T activated = store_value<T>(gelu_new_value(load_value(h0)));
    return store_value<T>(load_value(activated) * load_value(h1));
  }
};

// Both gradients from one read of g, h0 and h1:
//   dh0 = round(gelu'(h0) · round(g · h1))  (ops::gelu_new_backward of mul's gradient)
//   dh1 = round(g · round(gelu(h0)))
template <typename T>
__global__ void gated_gelu_backward_kernel(const T* g, const T* h0, const T* h1, T* dh0, T* dh1,
                                           int64_t n) {
  using C = compute_t<T>;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const C x = load_value(h0[i]);
    const C gi = load_value(g[i]);
    const C activated = load_value(store_value<T>(gelu_new_value(x)));
    const C grad_activated = load_value(store_value<T>(gi * load_value(h1[i])));
    dh0[i] = store_value<T>(gelu_new_grad_value(grad_activated, x));
    dh1[i] = store_value<T>(gi * activated);
  }
}

void check_gated(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                 const char* b_name) {
  gpu_of(op, a);
  T5_CHECK(is_floating(a.dtype()), op, ": ", a_name, " must be floating, got ",
           dtype_name(a.dtype()));
  T5_CHECK(a.shape() == b.shape() && a.dtype() == b.dtype() && a.device() == b.device(), op, ": ",
           a_name, " (", dtype_name(a.dtype()), " ", shape_str(a.shape()), " on ", a.device().str(),
           ") and ", b_name, " (", dtype_name(b.dtype()), " ", shape_str(b.shape()), " on ",
           b.device().str(), ") must match");
}

}  // namespace

Tensor gated_gelu_forward(const Tensor& h0, const Tensor& h1) {
  check_gated("gated_gelu_forward", h0, "h0", h1, "h1");
  return T5_DISPATCH_FLOATING(h0.dtype(), "gated_gelu_forward", [&] {
    Tensor out = Tensor::empty(h0.shape(), h0.dtype(), h0.device());
    launch_map<scalar_t, scalar_t, scalar_t>("gated_gelu_forward", out, GatedGelu<scalar_t>{}, h0,
                                             h1);
    return out;
  });
}

GatedGeluGrads gated_gelu_backward(const Tensor& grad_y, const Tensor& h0, const Tensor& h1) {
  check_gated("gated_gelu_backward", h0, "h0", h1, "h1");
  check_gated("gated_gelu_backward", grad_y, "grad_y", h0, "h0");
  return T5_DISPATCH_FLOATING(h0.dtype(), "gated_gelu_backward", [&] {
    const Tensor g = grad_y.contiguous(), x0 = h0.contiguous(), x1 = h1.contiguous();
    GatedGeluGrads grads{Tensor::empty(h0.shape(), h0.dtype(), h0.device()),
                         Tensor::empty(h1.shape(), h1.dtype(), h1.device())};
    const int64_t n = g.numel();
    if (n == 0) return grads;
    DeviceGuard guard(g.device());
    gated_gelu_backward_kernel<scalar_t><<<blocks_for(n), kThreads, 0, stream_of(g)>>>(
        static_cast<const scalar_t*>(g.data_ptr()), static_cast<const scalar_t*>(x0.data_ptr()),
        static_cast<const scalar_t*>(x1.data_ptr()), static_cast<scalar_t*>(grads.h0.data_ptr()),
        static_cast<scalar_t*>(grads.h1.data_ptr()), n);
    T5_CUDA_CHECK_LAUNCH("gated_gelu_backward");
    return grads;
  });
}

}  // namespace t5zero::cuda
