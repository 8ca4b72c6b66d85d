// optim/adamw.h's AdamW update on the GPU: one fused pass over the fp32 master weights, their
// gradients and both moments, optionally writing the bf16 copy the forward pass reads. Every
// operation is an explicitly rounded intrinsic, so the compiler cannot contract or reorder them:
// the sequence is the CPU kernel's, with true FMAs where the CPU emulates them in double.
#include "tensor/cuda/fused.h"
#include "tensor/cuda/kernel_common.cuh"

namespace t5zero::cuda {

namespace {

template <bool kWriteBf16, bool kSmallLerpWeight>
__global__ void adamw_kernel(AdamWDeviceSpan span, AdamWDeviceScalars s) {
  const float lerp_coefficient = kSmallLerpWeight ? s.one_minus_beta1 : s.one_minus_beta1 - 1.0f;
  for (int64_t i = global_thread(); i < span.numel; i += grid_threads()) {
    const float g = span.grads[i];
    const float p = __fmul_rn(span.params[i], s.decay_factor);
    const float m_old = span.exp_avg[i];
    // exp_avg.lerp_(g, w): fma(w, g − m, m) for w < 0.5, else fma(w − 1, g − m, g).
    const float m = __fmaf_rn(lerp_coefficient, __fsub_rn(g, m_old), kSmallLerpWeight ? m_old : g);
    // exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2).
    const float v =
        __fmaf_rn(__fmul_rn(s.one_minus_beta2, g), g, __fmul_rn(span.exp_avg_sq[i], s.beta2));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), s.bias_correction2_sqrt), s.eps);
    const float p_new = __fadd_rn(p, __fdiv_rn(__fmul_rn(s.neg_step_size, m), denom));
    span.exp_avg[i] = m;
    span.exp_avg_sq[i] = v;
    span.params[i] = p_new;
    if constexpr (kWriteBf16) span.params_bf16[i] = to_bf16(p_new);
  }
}

}  // namespace

void adamw_update(const AdamWDeviceSpan& span, const AdamWDeviceScalars& s, int device) {
  T5_CHECK(span.numel >= 0, "adamw_update: span numel: expected >= 0, got ", span.numel);
  if (span.numel == 0) return;
  T5_CHECK(span.params && span.grads && span.exp_avg && span.exp_avg_sq, "adamw_update: span of ",
           span.numel,
           " elements: expected params, grads, exp_avg and exp_avg_sq, got a null pointer");
  DeviceGuard guard(device);
  cudaStream_t stream = current_stream(device);
  const unsigned blocks = blocks_for(span.numel);
  // As the CPU: the lerp form is chosen by |1 − β1| < 0.5 (torch's lerp kernel does the same).
  const bool small = (s.one_minus_beta1 < 0 ? -s.one_minus_beta1 : s.one_minus_beta1) < 0.5f;
  if (span.params_bf16 != nullptr) {
    if (small) {
      adamw_kernel<true, true><<<blocks, kThreads, 0, stream>>>(span, s);
    } else {
      adamw_kernel<true, false><<<blocks, kThreads, 0, stream>>>(span, s);
    }
  } else if (small) {
    adamw_kernel<false, true><<<blocks, kThreads, 0, stream>>>(span, s);
  } else {
    adamw_kernel<false, false><<<blocks, kThreads, 0, stream>>>(span, s);
  }
  T5_CUDA_CHECK_LAUNCH("adamw_update");
}

}  // namespace t5zero::cuda
