// Fused CUDA kernels for the places where T5 gains from doing several catalogue ops in one pass
// over memory. Each entry states the composition of catalogue ops it equals (its reference in
// tests) and where its rounding differs. T is the inputs' dtype (f32, f64 or bf16); C is the
// statistics type: f32 for f32 and bf16, f64 for f64. "round(v)" rounds to T (a no-op for f32
// and f64 values computed in their own type).
//
// The inputs must be on one GPU; results are new tensors there, computed on the current stream.
// The declarations need no CUDA headers.
#pragma once

#include <cstdint>

#include "tensor/ops.h"

namespace t5zero::cuda {

// ---- RMSNorm (T5LayerNorm) ---------------------------------------------------------------------
struct RmsNormForward {
  Tensor y;        // T, x's shape
  Tensor inv_rms;  // C [rows]: rsqrt(mean(x²) + eps) of each row, for the backward
  Tensor sum;      // add_rms_norm_forward only: the residual sum it normalised
};

// Per row of x [..., D]: inv = 1/sqrt(C(Σ x² / D) + eps) (Σ in f64 of C products),
// y = round(w · round(x · inv)). Equals ops::rms_norm(x, weight, eps).
RmsNormForward rms_norm_forward(const Tensor& x, const Tensor& weight, double eps);

// s = round(residual + x) (ops::add), then rms_norm_forward(s): the pre-norm block's residual
// add and the next norm in one pass. Returns s in `sum`.
RmsNormForward add_rms_norm_forward(const Tensor& residual, const Tensor& x, const Tensor& weight,
                                    double eps);

// Equals ops::rms_norm_backward(grad_y, x, weight, eps) using the forward's inv_rms:
//   n = x · inv,  dn = grad_y · w,  dx = round(inv · (dn − n · Σ(dn · n) / D)),
//   dw = round(Σ_rows grad_y · round(n))  (Σ over rows in f64, fixed order: no atomics).
// When grad_residual is defined (the gradient reaching s through the residual path), it is added
// to dx in the same pass: dx = round(round(dx) + grad_residual), as a separate ops::add would.
ops::RmsNormGrads rms_norm_backward_fused(const Tensor& grad_y, const Tensor& x,
                                          const Tensor& weight, const Tensor& inv_rms,
                                          const Tensor& grad_residual = Tensor());

// ---- gated gelu_new (T5DenseGatedActDense) -----------------------------------------------------
// y = round(round(gelu_new(h0)) · h1), as HF computes act(wi_0 x) * wi_1 x with each op rounding:
// equals ops::mul(ops::gelu_new(h0), h1). h0 and h1 have one shape.
Tensor gated_gelu_forward(const Tensor& h0, const Tensor& h1);
struct GatedGeluGrads {
  Tensor h0;
  Tensor h1;
};
// dh1 = round(g · round(gelu_new(h0))), dh0 = round(gelu_new'(h0) · round(g · h1)): equals the
// catalogue's mul backward followed by ops::gelu_new_backward.
GatedGeluGrads gated_gelu_backward(const Tensor& grad_y, const Tensor& h0, const Tensor& h1);

// ---- attention probabilities ------------------------------------------------------------------
struct AttentionProbs {
  Tensor probs;    // T [B, H, Tq, Tk]: the softmax, before dropout (the backward needs it)
  Tensor dropped;  // T: dropout of probs; the same tensor as probs when p == 0
};

// scores T [B, H, Tq, Tk] (from q·kᵀ, unscaled as T5); bias and mask T, each broadcastable to
// [B, H, Tq, Tk] (the relative position bias [1, H, Tq, Tk], the additive mask [B, 1, 1, Tk] or
// [B, 1, Tq, Tk] with finfo(T).min for masked keys); mask may be undefined. As HF T5:
//   position_bias = round(bias + mask);  x = round(scores + position_bias);
//   probs = round(softmax_C(x));  dropped = ops::dropout(probs, p, seed, offset)
// so the result equals that composition of catalogue ops, with the same dropout mask (element
// index = linear index in [B, H, Tq, Tk] + offset).
AttentionProbs attention_softmax_forward(const Tensor& scores, const Tensor& bias,
                                         const Tensor& mask, double p, uint64_t seed,
                                         uint64_t offset);

// The gradient of the scores (and of position_bias, before summing over its broadcast dims):
//   g' = ops::dropout(grad_dropped, p, seed, offset);  d = round(probs · (g' − Σ_row g' · probs))
// i.e. ops::softmax_backward(dropout backward). T [B, H, Tq, Tk].
Tensor attention_softmax_backward(const Tensor& grad_dropped, const Tensor& probs, double p,
                                  uint64_t seed, uint64_t offset);

// The gradient of the relative attention bias table [num_buckets, H] from d_scores
// [B, H, Tq, Tk] and the bucket of each (query, key) pair, buckets [Tq, Tk] (i32 or i64, on any
// device; from relative_position_buckets):
//   out[k, h] = round(Σ_{b, q, j : buckets[q, j] = k} d_scores[b, h, q, j])
// summed in f64 in a fixed order (no atomics). Equals, up to the rounding of the intermediate
// sum over b, ops::embedding_backward(sum over b of d_scores permuted to [Tq, Tk, H], buckets,
// num_buckets).
Tensor relative_position_bias_grad(const Tensor& d_scores, const Tensor& buckets,
                                   int64_t num_buckets);

// ---- cross-entropy ----------------------------------------------------------------------------
struct CrossEntropyForward {
  Tensor loss;           // scalar of the logits' dtype: ops::cross_entropy(logits, targets)
  Tensor row_logsumexp;  // C [N]: max + log Σ exp(x − max) of each row, for the backward
  int64_t kept = 0;      // targets != ignore_index
};

// Log-softmax and the negative log-likelihood in one pass over the logits [N, V]: per kept row,
// loss_row = lse − x[target] in C; loss = round(Σ loss_row / kept) (Σ in f64, fixed order); 0
// when every target is ignored. Targets are validated on the host as ops::cross_entropy does.
CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& targets,
                                          int64_t ignore_index);

// dlogits = round((exp(x − lse) − onehot(target)) · grad_loss / kept); ignored rows 0. Equals
// ops::cross_entropy_backward without recomputing the row statistics. With `in_place`, the
// gradient overwrites `logits` (and is returned): the [N, 32128] logits are not needed after it.
Tensor cross_entropy_backward_fused(const Tensor& grad_loss, const Tensor& logits,
                                    const Tensor& targets, const CrossEntropyForward& forward,
                                    int64_t ignore_index, bool in_place = false);

// ---- AdamW -------------------------------------------------------------------------------------
// One flat fp32 range on the GPU, field for field optim/adamw.h's AdamWSpan (device pointers).
struct AdamWDeviceSpan {
  float* params = nullptr;
  const float* grads = nullptr;
  float* exp_avg = nullptr;
  float* exp_avg_sq = nullptr;
  int64_t numel = 0;
  bf16* params_bf16 = nullptr;  // when set, receives round(params) in the same pass
};

// The per-step scalars, field for field optim/adamw.h's AdamWStepScalars (adamw_step_scalars).
struct AdamWDeviceScalars {
  float decay_factor;
  float one_minus_beta1;
  float beta2;
  float one_minus_beta2;
  float bias_correction2_sqrt;
  float eps;
  float neg_step_size;
};

// optim/adamw.h's adamw_update on the GPU, with the same operation order and true FMAs:
//   p *= decay;  m = fma(w, g − m, m) (w = 1−β1 < 0.5) or fma(w − 1, g − m, g);
//   v = fma((1−β2)·g, g, v·β2);  p += (neg_step · m) / (sqrt(v) / bc2_sqrt + eps)
// All in f32 with correctly rounded division and sqrt, so results equal the CPU's except where
// the CPU's double-rounded FMA emulation meets an exact tie (an ulp, rarely).
void adamw_update(const AdamWDeviceSpan& span, const AdamWDeviceScalars& s, int device);

}  // namespace t5zero::cuda
