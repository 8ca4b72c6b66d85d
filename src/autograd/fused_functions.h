// Differentiable ops that T5 runs as one fused kernel on a GPU (tensor/cuda/fused.h): RMSNorm,
// the gated gelu_new, the attention probabilities, the relative position bias lookup and the
// cross-entropy loss. The model calls these on every device.
//
// On the CPU each is the composition of catalogue ops the model has always used (recorded as
// those ops, so CPU results and gradients are what they were, bit for bit): the CPU defines what
// each op means. On a GPU each is one node whose forward and backward are the fused kernels,
// which equal that composition up to the rounding fused.h states. The device is the inputs'.
//
// Backward closures capture input Variables and read .data() when they run (a ZeRO-3 weight is
// gathered again for backward); tensors a fused forward computed itself for its backward
// (1/rms, softmax probabilities, row log-sum-exp) are captured as Tensors.
#pragma once

#include <cstdint>

#include "autograd/variable.h"

namespace t5zero::autograd::fused {

// T5LayerNorm: rms_norm(x, weight, eps) (functions.h). On a GPU the forward keeps each row's
// 1/rms, so the backward does not reduce the rows again.
Variable rms_norm(const Variable& x, const Variable& weight, double eps);

// T5DenseGatedActDense's activation: mul(gelu_new(h0), h1), h0 and h1 of one shape. On a GPU the
// backward recomputes gelu_new(h0) instead of keeping it.
Variable gated_gelu(const Variable& h0, const Variable& h1);

// T5Attention's probabilities: dropout(softmax(add(scores, position_bias)), p, seed, offset),
// no dropout when p == 0. scores [B, H, Tq, Tk]; position_bias broadcastable to it (the
// relative bias plus the additive mask, or the mask alone). Dropout element indices are linear
// in [B, H, Tq, Tk] plus offset, as autograd::dropout's.
Variable attention_probs(const Variable& scores, const Variable& position_bias, double p,
                         uint64_t seed, uint64_t offset);

// T5Attention.compute_bias: the relative attention bias table [num_buckets, H] looked up at
// buckets [Tq, Tk] (i64, from relative_position_buckets; on any device) and laid out as
// [1, H, Tq, Tk]: reshape(permute(embedding(table, buckets), {2, 0, 1})). On a GPU the
// table's gradient is reduced by bucket without a permuted copy of the gradient.
Variable relative_position_bias(const Variable& table, const Tensor& buckets);

// The mean cross-entropy of logits [N, V] against targets [N] on the logits' device, as
// autograd::cross_entropy. On a GPU the forward keeps each row's log-sum-exp for the backward.
Variable cross_entropy(const Variable& logits, const Tensor& targets, int64_t ignore_index = -100);

}  // namespace t5zero::autograd::fused
