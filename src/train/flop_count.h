// Model FLOPs of one training step of an encoder-decoder T5, and the model FLOPs utilisation
// (MFU) they give, as DESIGN.md §6 counts them: each weight matrix against the tokens it
// multiplies, not the decoder-only 6·N·(all tokens), which overcounts T5 about 2×.
//
// Counted, per forward pass (a multiply-add is 2 FLOPs):
//   - 2·weights·tokens for the matmul weights of each stack: encoder q, k, v, o and FFN weights
//     (wi or wi_0 + wi_1, wo) on encoder tokens; decoder self-attention q, k, v, o, cross-
//     attention q, o and FFN weights on decoder tokens;
//   - the cross-attention k, v projections on encoder tokens (they project the encoder's output);
//   - the attention products q·kᵀ and probs·v: 2·2·T_q·T_k·inner per row and layer
//     (inner = heads·d_kv), for encoder self-attention (T_q = T_k = source), decoder
//     self-attention (target × target, the causal mask not discounted) and cross-attention
//     (target × source);
//   - the LM head: 2·d_model·vocab on decoder tokens (tied or not).
// A training step is forward + backward = 3 × forward. Not counted: embedding lookups, RMSNorm,
// activation functions, softmax, dropout, the relative-position bias, the loss, the optimizer,
// and the forward recomputed by activation checkpointing (model FLOPs, not hardware FLOPs).
#pragma once

#include <cstdint>

#include "io/t5_config.h"

namespace t5zero {

// One training step's batch: `batch` rows of `source_length` encoder tokens and
// `target_length` decoder tokens (labels).
struct StepShape {
  int64_t batch = 1;
  int64_t source_length = 512;
  int64_t target_length = 128;

  int64_t tokens() const { return batch * (source_length + target_length); }
};

// Model FLOPs of one forward + backward, by where they come from.
struct StepFlops {
  double encoder_weights = 0;   // encoder q, k, v, o, FFN on encoder tokens
  double decoder_weights = 0;   // decoder self q, k, v, o, cross q, o, FFN on decoder tokens
  double cross_kv_weights = 0;  // decoder cross-attention k, v on encoder tokens
  double lm_head = 0;           // d_model × vocab on decoder tokens
  double attention = 0;         // q·kᵀ and probs·v of every attention

  double total() const {
    return encoder_weights + decoder_weights + cross_kv_weights + lm_head + attention;
  }
};

StepFlops training_step_flops(const T5Config& config, const StepShape& shape);

// The decoder-only rule 6·parameters·(source + target tokens), for comparison only: it charges
// every weight, the embedding included, to every token.
double six_n_all_tokens_flops(int64_t parameters, const StepShape& shape);

// flops / (step_seconds · peak_tflops·10^12): the share of the device's peak the step's model
// FLOPs reach.
double model_flops_utilization(double flops, double step_seconds, double peak_tflops);

}  // namespace t5zero
