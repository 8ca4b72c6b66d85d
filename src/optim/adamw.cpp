#include "optim/adamw.h"

#ifdef T5ZERO_CUDA
#include "tensor/cuda/fused.h"
#endif

#include <cmath>

#include "tensor/error.h"

namespace t5zero {

namespace {

// Below this many elements the update runs on one thread: spawning costs more than it saves.
constexpr int64_t kParallelGrain = 32768;

// a·b + c rounded once to float, as an FMA instruction computes it: the product of two floats
// is exact in double, so only the sum rounds (twice, float-to-double-to-float, which differs
// from a true FMA only on rare exact ties). torch's vectorized CPU kernels use FMAs here;
// matching them makes nearly every element bit-identical to torch.optim.AdamW (the rest are an
// ulp apart where torch's vectorized sqrt is not correctly rounded).
inline float fused_multiply_add(float a, float b, float c) {
  return static_cast<float>(static_cast<double>(a) * static_cast<double>(b) +
                            static_cast<double>(c));
}

// The element loop. Each element depends only on its own inputs, so `parallel for simd` splits
// the range into contiguous per-thread chunks and vectorizes each; the result is bit-identical
// for any thread count. Operation order as torch's vectorized kernels:
//   exp_avg.lerp_(g, w):  fma(w, g - m, m) for w < 0.5, else fma(w - 1, g - m, g)
//   exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2):  fma((1 - b2)·g, g, v·b2)
//   denom = sqrt(v) / sqrt(bc2) + eps;  p.addcdiv_(m, denom, -step):  p + (-step·m) / denom
template <bool kWriteBf16, bool kSmallLerpWeight>
void update_elements(const AdamWSpan& span, const AdamWStepScalars& s) {
  float* params = span.params;
  const float* grads = span.grads;
  float* exp_avg = span.exp_avg;
  float* exp_avg_sq = span.exp_avg_sq;
  bf16* params_bf16 = span.params_bf16;
  const int64_t n = span.numel;
  const float decay_factor = s.decay_factor;
  const float lerp_coefficient = kSmallLerpWeight ? s.one_minus_beta1 : s.one_minus_beta1 - 1.0f;
  const float beta2 = s.beta2;
  const float one_minus_beta2 = s.one_minus_beta2;
  const float bias_correction2_sqrt = s.bias_correction2_sqrt;
  const float eps = s.eps;
  const float neg_step_size = s.neg_step_size;
#pragma omp parallel for simd schedule(simd : static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grads[i];
    const float p = params[i] * decay_factor;
    const float m_old = exp_avg[i];
    const float m = fused_multiply_add(lerp_coefficient, g - m_old, kSmallLerpWeight ? m_old : g);
    const float v = fused_multiply_add(one_minus_beta2 * g, g, exp_avg_sq[i] * beta2);
    const float denom = std::sqrt(v) / bias_correction2_sqrt + eps;
    const float p_new = p + neg_step_size * m / denom;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    params[i] = p_new;
    if constexpr (kWriteBf16) params_bf16[i] = to_bf16(p_new);
  }
}

}  // namespace

void check_adamw_hyperparams(const AdamWHyperparams& h) {
  // The same bounds torch.optim.Adam checks in its constructor.
  T5_CHECK(h.lr >= 0.0, "AdamW: lr: expected >= 0, got ", h.lr);
  T5_CHECK(h.eps >= 0.0, "AdamW: eps: expected >= 0, got ", h.eps);
  T5_CHECK(h.beta1 >= 0.0 && h.beta1 < 1.0, "AdamW: beta1: expected in [0, 1), got ", h.beta1);
  T5_CHECK(h.beta2 >= 0.0 && h.beta2 < 1.0, "AdamW: beta2: expected in [0, 1), got ", h.beta2);
  T5_CHECK(h.weight_decay >= 0.0, "AdamW: weight_decay: expected >= 0, got ", h.weight_decay);
}

AdamWStepScalars adamw_step_scalars(const AdamWHyperparams& h, int64_t step) {
  T5_CHECK(step >= 1, "AdamW: step: expected >= 1 (the count including this update), got ", step);
  const double t = static_cast<double>(step);
  // As torch: bias corrections and step size in Python floats (double), then each scalar is
  // handed to a float kernel.
  const double bias_correction1 = 1.0 - std::pow(h.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(h.beta2, t);
  AdamWStepScalars s;
  s.decay_factor = static_cast<float>(1.0 - h.lr * h.weight_decay);
  s.one_minus_beta1 = static_cast<float>(1.0 - h.beta1);
  s.beta2 = static_cast<float>(h.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - h.beta2);
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.eps = static_cast<float>(h.eps);
  s.neg_step_size = static_cast<float>(-(h.lr / bias_correction1));
  return s;
}

void adamw_update(const AdamWSpan& span, const AdamWStepScalars& s) {
  T5_CHECK(span.numel >= 0, "AdamW: span numel: expected >= 0, got ", span.numel);
  if (span.numel == 0) return;
  T5_CHECK(span.params && span.grads && span.exp_avg && span.exp_avg_sq, "AdamW: span of ",
           span.numel,
           " elements: expected params, grads, exp_avg and exp_avg_sq, got a null pointer");
#ifdef T5ZERO_CUDA
  if (span.cuda_device >= 0) {
    cuda::adamw_update(
        cuda::AdamWDeviceSpan{span.params, span.grads, span.exp_avg, span.exp_avg_sq, span.numel,
                              span.params_bf16},
        cuda::AdamWDeviceScalars{s.decay_factor, s.one_minus_beta1, s.beta2, s.one_minus_beta2,
                                 s.bias_correction2_sqrt, s.eps, s.neg_step_size},
        span.cuda_device);
    return;
  }
#else
  T5_CHECK(span.cuda_device < 0, "AdamW: a GPU span in a build without CUDA");
#endif
  const bool small_lerp_weight = std::fabs(s.one_minus_beta1) < 0.5f;
  if (span.params_bf16) {
    if (small_lerp_weight) {
      update_elements<true, true>(span, s);
    } else {
      update_elements<true, false>(span, s);
    }
  } else if (small_lerp_weight) {
    update_elements<false, true>(span, s);
  } else {
    update_elements<false, false>(span, s);
  }
}

size_t AdamW::add_param_group(const AdamWHyperparams& h) {
  check_adamw_hyperparams(h);
  groups_.push_back(Group{h, 0});
  return groups_.size() - 1;
}

AdamW::Group& AdamW::group_at(size_t group) {
  T5_CHECK(group < groups_.size(), "AdamW: param group ", group, ": expected < ", groups_.size());
  return groups_[group];
}

const AdamW::Group& AdamW::group_at(size_t group) const {
  T5_CHECK(group < groups_.size(), "AdamW: param group ", group, ": expected < ", groups_.size());
  return groups_[group];
}

const AdamWHyperparams& AdamW::hyperparams(size_t group) const {
  return group_at(group).hyper;
}

void AdamW::set_lr(double lr) {
  T5_CHECK(lr >= 0.0, "AdamW: lr: expected >= 0, got ", lr);
  for (Group& g : groups_) g.hyper.lr = lr;
}

int64_t AdamW::step_count(size_t group) const {
  return group_at(group).step;
}

void AdamW::set_step_count(size_t group, int64_t step) {
  T5_CHECK(step >= 0, "AdamW: step count of group ", group, ": expected >= 0, got ", step);
  group_at(group).step = step;
}

void AdamW::step(size_t group, std::span<const AdamWSpan> spans) {
  Group& g = group_at(group);
  g.step += 1;
  const AdamWStepScalars s = adamw_step_scalars(g.hyper, g.step);
  for (const AdamWSpan& span : spans) adamw_update(span, s);
}

}  // namespace t5zero
